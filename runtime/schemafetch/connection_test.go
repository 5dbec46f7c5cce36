package schemafetch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/auth"
	"google.golang.org/protobuf/proto"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// schemaMessage publishes one STRING-schema message and returns its topic
// and schema version, for tests about the connection rather than schemas.
func schemaMessage(t *testing.T, serviceURL, prefix string) (string, []byte) {
	t.Helper()
	client := newPulsarClient(t, serviceURL)
	topic := uniqueTopic(t, prefix)
	m := publishOne(t, client, topic, pulsar.NewStringSchema(nil), &pulsar.ProducerMessage{Value: "x"})
	return topic, m.SchemaVersion()
}

func (p *wireProxy) setDrop(fn func(*wirepb.BaseCommand) bool) {
	p.mu.Lock()
	p.drop = fn
	p.mu.Unlock()
}

// waitSent waits until the fetcher has sent n frames of type typ.
func (p *wireProxy) waitSent(t *testing.T, typ wirepb.BaseCommand_Type, n int) []*wirepb.BaseCommand {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := p.sent(typ); len(got) >= n {
			return got
		}
		select {
		case <-p.seen:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("fetcher sent %d %s frames, want %d", len(p.sent(typ)), typ, n)
		}
	}
}

func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRetryOnNewConnection: the connection dies while a request is in
// flight (the proxy swallows the request and cuts the connection); the
// lookup succeeds on a fresh connection.
func TestRetryOnNewConnection(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "retry")
	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	cutOnce := true
	p.setDrop(func(c *wirepb.BaseCommand) bool {
		if c.GetType() == wirepb.BaseCommand_GET_SCHEMA && cutOnce {
			cutOnce = false
			go p.cut()
			return true
		}
		return false
	})
	f := New("pulsar://"+p.addr(), Options{})
	t.Cleanup(f.Close)
	s, err := f.Get(testCtx(t), topic, version)
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != record.SchemaString {
		t.Errorf("type %s", s.Type)
	}
	if f.Requests() != 2 || p.accepted.Load() != 2 {
		t.Errorf("requests %d connections %d, want 2 and 2", f.Requests(), p.accepted.Load())
	}

	// A cut between lookups: the next lookup reconnects.
	p.cut()
	if _, err := f.Get(testCtx(t), topic, nil); err != nil {
		t.Fatal(err)
	}
	if p.accepted.Load() != 3 {
		t.Errorf("connections %d, want 3", p.accepted.Load())
	}
}

func TestMultipleHosts(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "hosts")
	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	dead := deadAddr(t)

	f := New("pulsar://"+dead+","+p.addr(), Options{})
	t.Cleanup(f.Close)
	if _, err := f.Get(testCtx(t), topic, version); err != nil {
		t.Fatalf("first host down, second up: %v", err)
	}
	if p.accepted.Load() != 1 {
		t.Errorf("connections to the live host %d, want 1", p.accepted.Load())
	}

	dead2 := deadAddr(t)
	g := New("pulsar://"+dead+","+dead2, Options{})
	t.Cleanup(g.Close)
	_, err := g.Get(testCtx(t), topic, version)
	if err == nil {
		t.Fatal("all hosts down: Get succeeded")
	}
	for _, want := range []string{"no broker", dead, dead2, topic} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestPingPong: a broker Ping gets a Pong and the connection stays usable.
func TestPingPong(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "ping")
	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	f := New("pulsar://"+p.addr(), Options{})
	t.Cleanup(f.Close)
	if _, err := f.Get(testCtx(t), topic, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(p.sent(wirepb.BaseCommand_PONG)); n != 0 {
		t.Fatalf("%d PONG before any PING", n)
	}
	p.inject(&wirepb.BaseCommand{Type: wirepb.BaseCommand_PING.Enum(), Ping: &wirepb.CommandPing{}})
	p.waitSent(t, wirepb.BaseCommand_PONG, 1)
	if _, err := f.Get(testCtx(t), topic, version); err != nil {
		t.Fatal(err)
	}
	if p.accepted.Load() != 1 {
		t.Errorf("connections %d, want 1", p.accepted.Load())
	}
}

// TestAuth: the provider's method and data go into CONNECT, and an
// AuthChallenge is answered with fresh provider data. The dev broker runs
// without authentication, so it accepts any CONNECT credentials; the proxy
// checks what was sent and keeps the AuthResponse from the broker, which
// would refuse one it did not ask for.
func TestAuth(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "auth")
	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	p.setDrop(func(c *wirepb.BaseCommand) bool { return c.GetType() == wirepb.BaseCommand_AUTH_RESPONSE })

	prov, err := auth.NewProvider("token", `{"token":"tok-123"}`)
	if err != nil {
		t.Fatal(err)
	}
	f := New("pulsar://"+p.addr(), Options{Auth: prov, ClientVersion: "schemafetch-test"})
	t.Cleanup(f.Close)
	if _, err := f.Get(testCtx(t), topic, version); err != nil {
		t.Fatal(err)
	}
	c := p.sent(wirepb.BaseCommand_CONNECT)[0].GetConnect()
	if c.GetAuthMethodName() != "token" || string(c.GetAuthData()) != "tok-123" ||
		c.GetClientVersion() != "schemafetch-test" || c.GetProtocolVersion() != protocolVersion ||
		!c.GetFeatureFlags().GetSupportsAuthRefresh() {
		t.Errorf("CONNECT %v", c)
	}

	p.inject(&wirepb.BaseCommand{
		Type: wirepb.BaseCommand_AUTH_CHALLENGE.Enum(),
		AuthChallenge: &wirepb.CommandAuthChallenge{
			Challenge: &wirepb.AuthData{AuthMethodName: proto.String("refresh"), AuthData: []byte("refresh")},
		},
	})
	r := p.waitSent(t, wirepb.BaseCommand_AUTH_RESPONSE, 1)[0].GetAuthResponse()
	if r.GetResponse().GetAuthMethodName() != "token" || string(r.GetResponse().GetAuthData()) != "tok-123" ||
		r.GetProtocolVersion() != protocolVersion {
		t.Errorf("AUTH_RESPONSE %v", r)
	}
	if _, err := f.Get(testCtx(t), topic, nil); err != nil {
		t.Fatal(err)
	}
	if p.accepted.Load() != 1 {
		t.Errorf("connections %d, want 1 (the challenge must not break the connection)", p.accepted.Load())
	}

	// The same through AuthPlugin/AuthParams, as the instance conf gives them.
	p2 := startProxy(t, brokerHostPort(t, serviceURL), nil)
	g := New("pulsar://"+p2.addr(), Options{AuthPlugin: "org.apache.pulsar.client.impl.auth.AuthenticationToken", AuthParams: `{"token":"tok-456"}`})
	t.Cleanup(g.Close)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get(testCtx(t), topic, version); err != nil {
		t.Fatal(err)
	}
	if c := p2.sent(wirepb.BaseCommand_CONNECT)[0].GetConnect(); c.GetAuthMethodName() != "token" || string(c.GetAuthData()) != "tok-456" {
		t.Errorf("CONNECT %v", c)
	}
}

// TestAuthChallengeInHandshake: a broker may challenge before CONNECTED;
// the fetcher answers and keeps waiting for CONNECTED.
func TestAuthChallengeInHandshake(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "auth-hs")
	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	p.setDrop(func(c *wirepb.BaseCommand) bool { return c.GetType() == wirepb.BaseCommand_AUTH_RESPONSE })
	p.mu.Lock()
	p.beforeForward = func(pc *proxyConn, cmd *wirepb.BaseCommand) {
		if cmd.GetType() == wirepb.BaseCommand_CONNECT {
			// Sent before the broker sees CONNECT, so it arrives first.
			pc.send(&wirepb.BaseCommand{
				Type:          wirepb.BaseCommand_AUTH_CHALLENGE.Enum(),
				AuthChallenge: &wirepb.CommandAuthChallenge{Challenge: &wirepb.AuthData{AuthMethodName: proto.String("token")}},
			})
		}
	}
	p.mu.Unlock()
	f := New("pulsar://"+p.addr(), Options{AuthPlugin: "token", AuthParams: `{"token":"tok-hs"}`})
	t.Cleanup(f.Close)
	if _, err := f.Get(testCtx(t), topic, version); err != nil {
		t.Fatal(err)
	}
	r := p.sent(wirepb.BaseCommand_AUTH_RESPONSE)
	if len(r) != 1 || string(r[0].GetAuthResponse().GetResponse().GetAuthData()) != "tok-hs" {
		t.Errorf("AUTH_RESPONSE frames %v, want one carrying the token", r)
	}
}

func TestBadConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		url  string
		opts Options
		want string
	}{
		"url":         {"http://h:8080", Options{}, `service URL "http://h:8080"`},
		"trust file":  {"pulsar+ssl://h", Options{TLSTrustCertsFilePath: "/nonexistent/ca.pem"}, "TLSTrustCertsFilePath"},
		"plugin":      {"pulsar://h", Options{AuthPlugin: "kerberos", AuthParams: `{"secret":"s3cret"}`}, `AuthPlugin "kerberos"`},
		"params":      {"pulsar://h", Options{AuthPlugin: "token", AuthParams: `s3cret`}, `AuthPlugin "token"`},
		"no token":    {"pulsar://h", Options{AuthPlugin: "token", AuthParams: `{}`}, "missing configuration"},
		"empty topic": {"pulsar://h", Options{}, ""},
	} {
		f := New(tc.url, tc.opts)
		err := f.Err()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: Err() = %v", name, err)
			}
			if _, err := f.Get(context.Background(), " ", []byte{1}); err == nil || !strings.Contains(err.Error(), "topic is empty") {
				t.Errorf("%s: Get: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: Err() = %v, want one naming %q and no secret", name, err, tc.want)
		}
		if _, gerr := f.Get(context.Background(), "t", []byte{1}); gerr != err {
			t.Errorf("%s: Get error %v, want the Err() error", name, gerr)
		}
		f.Close()
	}
}

// TestTimeouts: a peer that accepts but never answers must not hang a
// caller, at connect time or on a request.
func TestTimeouts(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "timeout")

	silent := startProxy(t, brokerHostPort(t, serviceURL), nil)
	silent.blackhole.Store(true)
	f := New("pulsar://"+silent.addr(), Options{ConnectTimeout: 300 * time.Millisecond})
	t.Cleanup(f.Close)
	start := time.Now()
	_, err := f.Get(testCtx(t), topic, version)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("silent broker, ConnectTimeout 300ms: %v after %v", err, time.Since(start))
	}

	// The caller's context ends first: Get returns then.
	g := New("pulsar://"+silent.addr(), Options{})
	t.Cleanup(g.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = g.Get(ctx, topic, version)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("caller deadline 200ms: %v after %v", err, time.Since(start))
	}

	// Connected, but the request goes unanswered and nothing else comes:
	// the lookup times out and the connection is given up, so the next
	// lookup dials afresh.
	p := startProxy(t, brokerHostPort(t, serviceURL), nil)
	p.setDrop(func(c *wirepb.BaseCommand) bool { return c.GetType() == wirepb.BaseCommand_GET_SCHEMA })
	h := New("pulsar://"+p.addr(), Options{RequestTimeout: 500 * time.Millisecond})
	t.Cleanup(h.Close)
	start = time.Now()
	if _, err := h.Get(testCtx(t), topic, version); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered request: %v after %v", err, time.Since(start))
	}
	p.setDrop(nil)
	if _, err := h.Get(testCtx(t), topic, version); err != nil {
		t.Fatal(err)
	}
	if p.accepted.Load() != 2 {
		t.Errorf("connections %d, want 2 (the silent one given up)", p.accepted.Load())
	}
}

// testPKI writes a CA and a server certificate valid for "localhost" only
// (not for 127.0.0.1), and a client certificate, all signed by the CA.
type testPKI struct {
	caFile, clientCert, clientKey string
	server                        tls.Certificate
	pool                          *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "schemafetch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, dns []string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	srvDER, srvKey := issue(2, "localhost", []string{"localhost"}, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := issue(3, "schemafetch-client", nil, x509.ExtKeyUsageClientAuth)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testPKI{
		caFile:     writePEM("ca.pem", "CERTIFICATE", caDER),
		clientCert: writePEM("client.pem", "CERTIFICATE", cliDER),
		clientKey:  writePEM("client-key.pem", "EC PRIVATE KEY", cliKeyDER),
		server:     tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pool:       pool,
	}
}

// TestTLS runs pulsar+ssl:// against a TLS-terminating proxy in front of
// the dev broker (which has no TLS listener).
func TestTLS(t *testing.T) {
	serviceURL, _ := pulsarEnv(t)
	topic, version := schemaMessage(t, serviceURL, "tls")
	pki := newTestPKI(t)
	p := startProxy(t, brokerHostPort(t, serviceURL), &tls.Config{Certificates: []tls.Certificate{pki.server}})
	_, port, _ := net.SplitHostPort(p.addr())

	for name, tc := range map[string]struct {
		host    string
		opts    Options
		wantErr string
	}{
		"trusted, hostname verified":   {"localhost", Options{TLSTrustCertsFilePath: pki.caFile, TLSValidateHostname: true}, ""},
		"trusted, wrong hostname":      {"127.0.0.1", Options{TLSTrustCertsFilePath: pki.caFile, TLSValidateHostname: true}, "127.0.0.1"},
		"trusted, hostname unverified": {"127.0.0.1", Options{TLSTrustCertsFilePath: pki.caFile}, ""},
		"untrusted CA":                 {"127.0.0.1", Options{}, "unknown authority"},
		"untrusted CA, insecure":       {"127.0.0.1", Options{TLSAllowInsecureConnection: true}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			f := New("pulsar+ssl://"+net.JoinHostPort(tc.host, port), tc.opts)
			defer f.Close()
			s, err := f.Get(testCtx(t), topic, version)
			if tc.wantErr == "" {
				if err != nil || s.Type != record.SchemaString {
					t.Fatalf("got %v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}

	// A broker that wants a client certificate gets the one of the "tls"
	// auth provider.
	mp := startProxy(t, brokerHostPort(t, serviceURL), &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
	})
	url := "pulsar+ssl://" + mp.addr()
	without := New(url, Options{TLSTrustCertsFilePath: pki.caFile})
	defer without.Close()
	if _, err := without.Get(testCtx(t), topic, version); err == nil {
		t.Error("mutual TLS without a client certificate: Get succeeded")
	}
	with := New(url, Options{TLSTrustCertsFilePath: pki.caFile,
		AuthPlugin: "tls", AuthParams: `{"tlsCertFile":"` + pki.clientCert + `","tlsKeyFile":"` + pki.clientKey + `"}`})
	defer with.Close()
	if _, err := with.Get(testCtx(t), topic, version); err != nil {
		t.Errorf("mutual TLS with the provider's certificate: %v", err)
	}
	if c := mp.sent(wirepb.BaseCommand_CONNECT); len(c) != 1 || c[0].GetConnect().GetAuthMethodName() != "tls" {
		t.Errorf("CONNECT frames through the mutual-TLS proxy: %v", c)
	}
}
