package certerr

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestIs(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("post: %w", x509.UnknownAuthorityError{}):                       true,
		fmt.Errorf("post: %w", x509.HostnameError{Host: "kinesis.local"}):          true,
		fmt.Errorf("post: %w", x509.CertificateInvalidError{Reason: x509.Expired}): true,
		fmt.Errorf("post: %w", io.ErrUnexpectedEOF):                                false,
		errors.New("x509: certificate signed by unknown authority"):                false, // text alone is not enough
	} {
		if Is(err) != want {
			t.Errorf("%v: got %v", err, !want)
		}
	}
}
