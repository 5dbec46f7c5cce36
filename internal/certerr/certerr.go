// Package certerr recognises a failed TLS certificate verification. Every
// AWS client of the sink treats it as final: a certificate that is not
// trusted does not become trusted by retrying; it is a setting to fix (a
// CA bundle, or skipCertificateValidation).
package certerr

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// Is reports whether err is a failed certificate verification (unknown
// authority, wrong host name, expired or otherwise invalid).
func Is(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}
