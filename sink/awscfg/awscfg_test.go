package awscfg

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// Distinctive values that must never show up in an error message.
const (
	secretAK    = "AKIASECRETVALUE1"
	secretSK    = "sk-s3cr3t-VALUE-2"
	secretTok   = "tok-s3cr3t-VALUE-3"
	secretExtID = "ext-s3cr3t-VALUE-4"
)

func TestRegistryMatchesConf(t *testing.T) {
	params := map[conf.CredentialSource]string{
		conf.StaticKeys:   `{"accessKey":"a","secretKey":"b"}`,
		conf.DefaultChain: ``,
		conf.AssumeRole:   `{"roleArn":"arn:aws:iam::123456789012:role/r","roleSessionName":"s1"}`,
	}
	var all []string
	for _, p := range Plugins() {
		for _, name := range append([]string{p.Name}, p.Aliases...) {
			all = append(all, name)
			got, err := Lookup(name)
			if err != nil || got.Source != p.Source {
				t.Fatalf("Lookup(%q) = %v, %v", name, got, err)
			}
			c := conf.Default()
			c.AWSCredentialPluginName = name
			c.AWSCredentialPluginParam = conf.Secret(params[p.Source])
			cr, err := c.Credentials()
			if err != nil {
				t.Fatalf("conf rejects registry name %q: %v", name, err)
			}
			if cr.Source != p.Source {
				t.Errorf("conf maps %q to %v, registry to %v", name, cr.Source, p.Source)
			}
		}
	}
	if len(all) != 8 {
		t.Errorf("registry names %q: want the empty name, 4 Java class names and 3 short names", all)
	}
	// Both reject an unknown name, and conf's message lists every name the
	// registry has, so users see the same choices at load and at open.
	c := conf.Default()
	c.AWSCredentialPluginName = "com.acme.Creds"
	_, confErr := c.Credentials()
	_, regErr := Lookup("com.acme.Creds")
	if confErr == nil || regErr == nil {
		t.Fatalf("unknown name accepted: conf %v, registry %v", confErr, regErr)
	}
	for _, n := range pluginNames() {
		if !strings.Contains(confErr.Error(), n) || !strings.Contains(regErr.Error(), n) {
			t.Errorf("name %q missing from conf error %q or registry error %q", n, confErr, regErr)
		}
	}
	// Case matters, as for Java class names.
	if _, err := Lookup("STS"); err == nil {
		t.Error(`Lookup("STS") succeeded`)
	}
}

func TestStaticKeys(t *testing.T) {
	for _, tc := range []struct {
		param    string
		wantTok  string
		wantName string
	}{
		{`{"accessKey":"` + secretAK + `","secretKey":"` + secretSK + `"}`, "", ""},
		{`{"accessKey":"` + secretAK + `","secretKey":"` + secretSK + `","sessionToken":"` + secretTok + `"}`, secretTok, ""},
	} {
		c := conf.Default()
		c.AWSCredentialPluginParam = conf.Secret(tc.param)
		p, err := NewCredentials(context.Background(), c, Env{Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(*aws.CredentialsCache); !ok {
			t.Errorf("provider %T is not wrapped in aws.CredentialsCache", p)
		}
		got, err := p.Retrieve(context.Background())
		if err != nil || got.AccessKeyID != secretAK || got.SecretAccessKey != secretSK || got.SessionToken != tc.wantTok || got.CanExpire {
			t.Errorf("param %s: got %+v, %v", tc.param, got, err)
		}
	}
}

// TestParamErrors: every wrong plugin name or param fails with one line that
// names the field and shows no secret.
func TestParamErrors(t *testing.T) {
	role := `"roleArn":"arn:aws:iam::123456789012:role/r","roleSessionName":"sink"`
	for _, tc := range []struct {
		name, plugin, param, want string
	}{
		{"unknown plugin", "com.acme.Creds", `{}`, `awsCredentialPluginName": must be empty (static keys) or one of`},
		{"static bad JSON", "", `{"accessKey":"` + secretAK + `","secretKey":"` + secretSK + `"`, "not a JSON object"},
		{"static empty", "", ``, "got an empty value"},
		{"static missing secretKey", "", `{"accessKey":"` + secretAK + `"}`, `"secretKey" is missing or blank`},
		{"static blank accessKey", "", `{"accessKey":"  ","secretKey":"` + secretSK + `"}`, `"accessKey" is missing or blank`},
		{"static key not a string", "", `{"accessKey":12345,"secretKey":"` + secretSK + `"}`, `"accessKey" must be a JSON string`},
		{"sts bad JSON", conf.AssumeRolePlugin, `{"roleArn":`, "not a JSON object"},
		{"sts missing roleArn", "sts", `{"roleSessionName":"sink","secretKey":"` + secretSK + `","accessKey":"` + secretAK + `"}`, `"roleArn" is missing or blank`},
		{"sts roleArn not an ARN", "sts", `{"roleArn":"role-x","roleSessionName":"sink"}`, `"roleArn" is not an ARN`},
		{"sts missing session name", "assumeRole", `{"roleArn":"arn:aws:iam::123456789012:role/r"}`, `"roleSessionName" is missing or blank`},
		{"sts bad session name", "sts", `{"roleArn":"arn:aws:iam::1:role/r","roleSessionName":"has space"}`, `"roleSessionName" must be 2-64 characters`},
		{"sts duration too short", "sts", `{` + role + `,"durationSeconds":60}`, `"durationSeconds" must be an integer from 900 to 43200, got "60"`},
		{"sts duration not a number", "sts", `{` + role + `,"durationSeconds":"soon"}`, `"durationSeconds" must be an integer`},
		{"sts external id invalid", "sts", `{` + role + `,"externalId":"` + secretExtID + ` !"}`, `"externalId" must be 2-1224 characters`},
		{"sts policy a number", "sts", `{` + role + `,"policy":42}`, `"policy" must be a JSON policy document`},
		{"sts accessKey without secretKey", "sts", `{` + role + `,"accessKey":"` + secretAK + `"}`, `"secretKey" is missing or blank`},
		{"sts secretKey without accessKey", "sts", `{` + role + `,"secretKey":"` + secretSK + `"}`, `"accessKey" is missing or blank`},
		{"sts token without keys", "sts", `{` + role + `,"sessionToken":"` + secretTok + `"}`, `"sessionToken" needs "accessKey" and "secretKey"`},
		{"default chain bad profile type", "default", `{"profile":7}`, `"profile" must be a JSON string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conf.Default()
			c.AWSRegion = "us-east-1"
			c.AWSCredentialPluginName = tc.plugin
			c.AWSCredentialPluginParam = conf.Secret(tc.param)
			_, err := New(context.Background(), c, Options{Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, s := range []string{secretAK, secretSK, secretTok, secretExtID} {
				if strings.Contains(msg, s) {
					t.Errorf("error shows a secret value: %q", msg)
				}
			}
			var ce *conf.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *conf.Error", err)
			}
		})
	}
}

func TestJavaRegionOrEndpoints(t *testing.T) {
	c := conf.Default()
	c.AWSCredentialPluginParam = `{"accessKey":"a","secretKey":"b"}`
	c.AWSEndpoint = "http://127.0.0.1:1"
	_, err := New(context.Background(), c, Options{})
	if err == nil || !strings.Contains(err.Error(), `Either "awsRegion" must be set OR all of ["awsEndpoint", "cloudwatchEndpoint"] must be set.`) {
		t.Fatalf("got %v", err)
	}
	// Both endpoints and no region is the Java sink's emulator set-up.
	c.CloudwatchEndpoint = "http://127.0.0.1:2"
	cl, err := New(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if cl.Region != "us-east-1" || cl.CloudWatch == nil || cl.Kinesis == nil {
		t.Errorf("clients %+v", cl)
	}
	// metricsLevel none: no CloudWatch client at all.
	c.MetricsLevel = conf.MetricsNone
	cl2, err := New(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cl2.CloudWatch != nil {
		t.Error("CloudWatch client built with metricsLevel none")
	}
}

func TestUseQueryProtocol(t *testing.T) {
	for url, want := range map[string]bool{
		"": false,
		"https://monitoring.us-east-1.amazonaws.com":                false,
		"https://monitoring.cn-north-1.amazonaws.com.cn":            false,
		"https://vpce-0a1b.monitoring.eu-west-1.vpce.amazonaws.com": false,
		"https://monitoring.us-east-1.api.aws":                      false,
		"http://127.0.0.1:5000":                                     true,
		"http://localstack:4566":                                    true,
		"https://amazonaws.com.evil.example":                        true,
		"https://notamazonaws.com":                                  true,
	} {
		if got := UseQueryProtocol(url, false); got != want {
			t.Errorf("UseQueryProtocol(%q) = %v, want %v", url, got, want)
		}
	}
	if !UseQueryProtocol("https://monitoring.us-east-1.amazonaws.com", true) {
		t.Error("force ignored")
	}
}

// TestHTTPSettings checks connectTimeout and skipCertificateValidation on
// real connections: a TLS endpoint with a self-signed certificate is
// refused unless validation is skipped, and a server that accepts TCP but
// never completes the TLS handshake is given up after connectTimeout.
func TestHTTPSettings(t *testing.T) {
	tlsSrv := newTLSServer(t)
	silent := newSilentListener(t)
	noRetry := func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

	mk := func(endpoint string, skip bool, connectMs int64, given aws.HTTPClient) *Clients {
		c := conf.Default()
		c.AWSRegion = "us-east-1"
		c.AWSEndpoint = endpoint
		c.AWSCredentialPluginParam = `{"accessKey":"AKIDTEST","secretKey":"x"}`
		c.SkipCertificateValidation = skip
		c.ConnectTimeout = connectMs
		c.MetricsLevel = conf.MetricsNone
		cl, err := New(context.Background(), c, Options{Logger: slog.New(slog.DiscardHandler), KinesisHTTPClient: given})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := mk(tlsSrv, false, 2000, nil).Kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{}, noRetry)
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Errorf("self-signed endpoint without skipCertificateValidation: got %v, want a certificate error", err)
	}
	for _, given := range []aws.HTTPClient{nil, awshttp.NewBuildableClient()} {
		if _, err := mk(tlsSrv, true, 2000, given).Kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{}, noRetry); err != nil {
			t.Errorf("skipCertificateValidation (client %T): %v", given, err)
		}
	}

	start := time.Now()
	_, err = mk(silent, false, 300, nil).Kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{}, noRetry)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "TLS handshake timeout") || took > 3*time.Second {
		t.Errorf("silent endpoint with connectTimeout 300ms: %v after %s", err, took)
	}
}

// newTLSServer answers every request with an empty Kinesis ListStreams
// result over TLS with a self-signed certificate.
func newTLSServer(t *testing.T) string {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write([]byte(`{"StreamNames":[],"HasMoreStreams":false}`))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// selfSigned makes a throwaway certificate for 127.0.0.1 that no client
// trusts.
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "awscfg test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// newSilentListener accepts TCP connections and never writes.
func newSilentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "https://" + ln.Addr().String()
}

// TestRenewerTiming drives the renewer with a fake clock: credentials are
// handed out without a fetch until the window, renewed once in the window
// (a failure keeps the old ones, retried after the poll interval), and a
// window longer than the credentials' life is shortened.
func TestRenewerTiming(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var fetches int
	fail := false
	inner := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		fetches++
		if fail {
			return aws.Credentials{}, errors.New("sts down")
		}
		return aws.Credentials{AccessKeyID: "K" + strconv.Itoa(fetches), SecretAccessKey: "s", CanExpire: true, Expires: now.Add(15 * time.Minute)}, nil
	})
	r := newRenewer(inner, Env{ExpiryWindow: 5 * time.Minute, RetryDelay: 5 * time.Second})
	r.now = func() time.Time { return now }
	get := func() aws.Credentials {
		t.Helper()
		c, err := r.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock() // wait for a background renewal to finish
		f := r.inflight
		r.mu.Unlock()
		if f != nil {
			<-f.done
		}
		return c
	}
	if c := get(); c.AccessKeyID != "K1" || !c.Expires.Equal(now.Add(5*time.Second)) {
		t.Fatalf("first read %+v: want K1 reported to expire one poll interval ahead", c)
	}
	now = now.Add(9 * time.Minute) // 6 minutes left: outside the window
	if c := get(); c.AccessKeyID != "K1" || fetches != 1 {
		t.Fatalf("outside the window: %s after %d fetches", c.AccessKeyID, fetches)
	}
	now = now.Add(2 * time.Minute) // 4 minutes left: renew, but fail
	fail = true
	if c := get(); c.AccessKeyID != "K1" || fetches != 2 {
		t.Fatalf("in the window with STS down: %s after %d fetches", c.AccessKeyID, fetches)
	}
	now = now.Add(time.Second) // failed 1 s ago: no new attempt yet
	get()
	if fetches != 2 {
		t.Fatalf("retried after 1 s (poll 5 s): %d fetches", fetches)
	}
	now = now.Add(5 * time.Second)
	fail = false
	get() // this read starts the renewal, which succeeds
	if c := get(); c.AccessKeyID != "K3" || fetches != 3 {
		t.Fatalf("after the retry: %s after %d fetches", c.AccessKeyID, fetches)
	}
	if r.blockedCalls() != 1 {
		t.Errorf("%d reads blocked, want only the first", r.blockedCalls())
	}

	// Expired with STS down: reads fail.
	now = now.Add(20 * time.Minute)
	fail = true
	if _, err := r.Retrieve(context.Background()); err == nil {
		t.Error("expired credentials handed out")
	}

	// A 10-minute session with a 20-minute window renews at a third of
	// its life before expiry, not on every read.
	fail = false
	r2 := newRenewer(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "X", SecretAccessKey: "s", CanExpire: true, Expires: now.Add(10 * time.Minute)}, nil
	}), Env{ExpiryWindow: 20 * time.Minute, RetryDelay: time.Second})
	r2.now = func() time.Time { return now }
	if _, err := r2.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	r2.mu.Lock()
	w := r2.windowLocked()
	r2.mu.Unlock()
	if w != 10*time.Minute/3 {
		t.Errorf("window %s for a 10-minute session, want a third of it", w)
	}
}

// TestNoCredentialsOneLine: with nothing for the default chain to find, open
// fails with one line that says what was tried and what to set, and nothing
// else is logged about it (the SDK's cache wrappers and a second ERROR line
// made three messages of one cause).
func TestNoCredentialsOneLine(t *testing.T) {
	isolateAWSEnv(t)
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := javaConfig(t, "http://127.0.0.1:1", "us-east-1", conf.DefaultChainPlugin, "")
	_, err := New(context.Background(), cfg, Options{Logger: log})
	if err == nil {
		t.Fatal("New succeeded with no credentials anywhere")
	}
	msg := err.Error()
	for _, want := range []string{"default chain", "environment variables", "AWS_ACCESS_KEY_ID", "awsCredentialPluginParam", "EC2 IMDS"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "failed to refresh cached credentials") || strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error keeps the SDK's wrappers or spans lines: %s", msg)
	}
	if logged.Len() > 0 {
		t.Errorf("logged besides the error:\n%s", logged.String())
	}
}
