package producer

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
)

func TestCertificateErrorsAreFinal(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("send: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
		fmt.Errorf("send: %w", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "kinesis"}),
	} {
		if a, code, _ := classifyErr(err, false); a != fateFail || code != CodeCertificate {
			t.Errorf("%v: fate %v code %q, want fatal %s", err, a, code, CodeCertificate)
		}
	}
}
