// Package awstest is test support for the packages that talk to AWS: a
// recording reverse proxy to put in front of an emulator (moto), and a
// decoder for CloudWatch PutMetricData requests in the query protocol.
//
// The proxy exists because moto keeps no log of the calls it served: a test
// cannot ask it which role AssumeRole was called with, with which external
// id, nor which access key signed a Kinesis or CloudWatch request, and moto
// has no way to fail on demand. The proxy forwards every request unchanged
// to the emulator (so the emulator still does the real work and answers),
// records what the tests check, and can answer instead with an injected
// error.
package awstest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Call is one request seen by the proxy.
type Call struct {
	// Service is the SigV4 signing name ("kinesis", "monitoring", "sts"),
	// "" for unsigned requests (AssumeRoleWithWebIdentity).
	Service string
	// Action is the operation: from X-Amz-Target, the form's Action, or the
	// last path segment (RPC v2 CBOR).
	Action string
	// AccessKeyID signed the request ("" if unsigned).
	AccessKeyID string
	// SessionToken is the X-Amz-Security-Token header.
	SessionToken string
	// Form is the decoded form body of query-protocol requests (STS,
	// CloudWatch with awsquery), after gzip decoding.
	Form url.Values
	// Body is the request body after gzip decoding.
	Body []byte
	// Status is the HTTP status answered (the emulator's or the fault's).
	Status int
	// Injected says the proxy answered with a fault instead of forwarding.
	Injected bool
	// IssuedAccessKeyID is the AccessKeyId in an STS credentials response.
	IssuedAccessKeyID string
	// Time is when the request arrived.
	Time time.Time
}

// Fault decides, per request, whether to answer with an error instead of
// forwarding: it returns the HTTP status (0 forwards) and an error code.
type Fault func(c *Call) (status int, code string)

// Proxy is a recording reverse proxy; see the package documentation.
type Proxy struct {
	// URL is the proxy's base URL, to use as the endpoint of every service.
	URL string

	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu    sync.Mutex
	calls []Call
	fault Fault
}

type callKey struct{}

// New starts a proxy in front of target (e.g. moto's URL) and stops it when
// the test ends.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("awstest: bad target %q: %v", target, err)
	}
	p := &Proxy{}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Keep the Host the client signed; moto does not check
			// signatures, but a faithful forward changes nothing.
			r.Out.Host = r.In.Host
		},
		ModifyResponse: p.inspectResponse,
	}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// SetFault installs f (nil removes it).
func (p *Proxy) SetFault(f Fault) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// Calls returns a copy of every call recorded so far.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Find returns the calls to service (any if "") with action (any if "").
func (p *Proxy) Find(service, action string) []Call {
	var out []Call
	for _, c := range p.Calls() {
		if (service == "" || c.Service == service) && (action == "" || c.Action == action) {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets the recorded calls.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.calls = nil
	p.mu.Unlock()
}

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request`)

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body.Close()
	c := &Call{Time: time.Now(), SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.AccessKeyID, c.Service = m[1], m[2]
	}
	c.Body = raw
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				c.Body = b
			}
		}
	}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		t := r.Header.Get("X-Amz-Target")
		c.Action = t[strings.LastIndex(t, ".")+1:]
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		if f, err := url.ParseQuery(string(c.Body)); err == nil {
			c.Form = f
			c.Action = f.Get("Action")
		}
	default:
		c.Action = r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	}

	p.mu.Lock()
	fault := p.fault
	p.mu.Unlock()
	if fault != nil {
		if status, code := fault(c); status != 0 {
			c.Status, c.Injected = status, true
			p.record(c)
			writeFault(w, status, code)
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r = r.WithContext(context.WithValue(r.Context(), callKey{}, c))
	p.rp.ServeHTTP(w, r)
	p.record(c)
}

func (p *Proxy) record(c *Call) {
	p.mu.Lock()
	p.calls = append(p.calls, *c)
	p.mu.Unlock()
}

var accessKeyRE = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)

func (p *Proxy) inspectResponse(resp *http.Response) error {
	c, _ := resp.Request.Context().Value(callKey{}).(*Call)
	if c == nil {
		return nil
	}
	c.Status = resp.StatusCode
	if !strings.HasPrefix(c.Action, "AssumeRole") && c.Action != "GetSessionToken" {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if m := accessKeyRE.FindSubmatch(body); m != nil {
		c.IssuedAccessKeyID = string(m[1])
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// writeFault answers in the query protocol's error shape, which the STS and
// CloudWatch (awsquery) clients decode into "api error <code>"; other
// clients see the status.
func writeFault(w http.ResponseWriter, status int, code string) {
	if code == "" {
		code = "ServiceUnavailable"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>%s</Code><Message>injected by the test proxy</Message></Error><RequestId>awstest</RequestId></ErrorResponse>`, code)
}
