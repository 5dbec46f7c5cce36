package schemafetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/apache/pulsar-client-go/pulsar/auth"
)

// Options configure a Fetcher. The zero value connects without
// authentication, with the default timeouts.
type Options struct {
	// Auth authenticates the connection; nil means none. The Fetcher calls
	// only Name, GetData and GetTLSCertificate: it neither Inits nor
	// Closes the provider, so one provider (already initialised) can be
	// shared with the pulsar.Client.
	Auth auth.Provider
	// AuthPlugin and AuthParams name a provider for auth.NewProvider (the
	// instance conf's clientAuthenticationPlugin/Parameters, e.g. "token"
	// and {"token":"..."}); used only when Auth is nil. The Fetcher then
	// owns that provider: it Inits it in New and Closes it in Close.
	AuthPlugin string
	AuthParams string

	// TLSTrustCertsFilePath is a PEM file of the CAs trusted for
	// pulsar+ssl:// brokers; empty means the system roots.
	TLSTrustCertsFilePath string
	// TLSAllowInsecureConnection accepts any broker certificate.
	TLSAllowInsecureConnection bool
	// TLSValidateHostname checks that the broker certificate names the
	// host dialled. Off (Pulsar's default) still verifies the chain.
	TLSValidateHostname bool

	// ConnectTimeout bounds one connection attempt (TCP, TLS and the
	// CONNECT handshake) to one host. Default 10s.
	ConnectTimeout time.Duration
	// RequestTimeout bounds one lookup, connecting included, whatever the
	// caller's context allows (a caller that gives up early does not stop
	// the lookup, whose answer still fills the cache). Default 30s.
	RequestTimeout time.Duration

	// ClientVersion is what CONNECT reports as the client; the broker
	// shows it in connection stats. Default "kinesis-sink-schemafetch".
	ClientVersion string
}

const (
	defaultConnectTimeout = 10 * time.Second
	defaultRequestTimeout = 30 * time.Second
	defaultClientVersion  = "kinesis-sink-schemafetch"
)

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	if o.ClientVersion == "" {
		o.ClientVersion = defaultClientVersion
	}
	return o
}

// authProvider returns the provider to use and whether the Fetcher made
// (and so must close) it.
func (o Options) authProvider() (auth.Provider, bool, error) {
	if o.Auth != nil {
		return o.Auth, false, nil
	}
	if o.AuthPlugin == "" {
		return auth.NewAuthDisabled(), false, nil
	}
	params := o.AuthParams
	if params == "" {
		params = "{}"
	}
	p, err := auth.NewProvider(o.AuthPlugin, params)
	if err == nil {
		err = p.Init()
	}
	if err != nil {
		// The parameters may hold a secret: keep them out of the message.
		msg := err.Error()
		if o.AuthParams != "" {
			msg = strings.ReplaceAll(msg, o.AuthParams, "****")
		}
		return nil, false, fmt.Errorf("schemafetch: AuthPlugin %q: cannot be set up with the given AuthParams (want a JSON object of that plugin's parameters): %s", o.AuthPlugin, msg)
	}
	return p, true, nil
}

// parseServiceURL splits pulsar://h1:p1,h2:p2 (or pulsar+ssl://) into
// host:port addresses, filling in the scheme's default port.
func parseServiceURL(s string) (addrs []string, useTLS bool, err error) {
	bad := func(why string) ([]string, bool, error) {
		return nil, false, fmt.Errorf("schemafetch: service URL %q: %s; want pulsar://host[:port][,host[:port]] or pulsar+ssl://host[:port]", s, why)
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(s), "://")
	if !ok {
		return bad("no scheme")
	}
	var port string
	switch strings.ToLower(scheme) {
	case "pulsar":
		port = "6650"
	case "pulsar+ssl":
		port, useTLS = "6651", true
	default:
		return bad("unsupported scheme " + scheme)
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	for _, h := range strings.Split(rest, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return bad("empty host")
		}
		host, p, err := net.SplitHostPort(h)
		if err != nil {
			// No port given (or a bare IPv6 address): use the default.
			host, p = strings.Trim(h, "[]"), port
		}
		if host == "" {
			return bad("empty host")
		}
		addrs = append(addrs, net.JoinHostPort(host, p))
	}
	return addrs, useTLS, nil
}

// tlsConfig builds the TLS settings shared by every dial. ServerName is
// filled per host when dialling.
func tlsConfig(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSAllowInsecureConnection {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	var roots *x509.CertPool // nil: the system roots
	if o.TLSTrustCertsFilePath != "" {
		pem, err := os.ReadFile(o.TLSTrustCertsFilePath)
		if err != nil {
			return nil, fmt.Errorf("schemafetch: TLSTrustCertsFilePath %q: %w", o.TLSTrustCertsFilePath, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("schemafetch: TLSTrustCertsFilePath %q: no PEM certificate in it", o.TLSTrustCertsFilePath)
		}
	}
	cfg.RootCAs = roots
	if !o.TLSValidateHostname {
		// Go's verifier always checks the host name, so take the check
		// over and verify only the chain.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

var partitionSuffix = regexp.MustCompile(`-partition-[0-9]+$`)

// baseTopic gives the full name of the topic whose schema a (possibly
// short, possibly partition) topic name uses: partitions share their
// parent's schema, and short names resolve as the broker resolves them.
func baseTopic(topic string) (string, error) {
	t := strings.TrimSpace(topic)
	if domain, rest, ok := strings.Cut(t, "://"); ok {
		if domain != "persistent" && domain != "non-persistent" {
			return "", fmt.Errorf("schemafetch: topic %q: domain %q is not persistent or non-persistent", topic, domain)
		}
		if strings.Count(rest, "/") < 2 {
			return "", fmt.Errorf("schemafetch: topic %q: want domain://tenant/namespace/topic", topic)
		}
	} else {
		switch strings.Count(t, "/") {
		case 0:
			if t == "" {
				return "", errors.New("schemafetch: topic is empty")
			}
			t = "persistent://public/default/" + t
		case 2:
			t = "persistent://" + t
		default:
			return "", fmt.Errorf("schemafetch: topic %q: want topic, tenant/namespace/topic or domain://tenant/namespace/topic", topic)
		}
	}
	return partitionSuffix.ReplaceAllString(t, ""), nil
}
