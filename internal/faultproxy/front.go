package faultproxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testcert"
)

// TLSFront is an HTTPS endpoint, with a self-signed certificate for
// 127.0.0.1, in front of the proxy: the Kinesis Producer Library (under the
// Java sink) speaks HTTPS only, while the proxy and kinesalite speak plain
// HTTP. Kinesis calls (JSON protocol, X-Amz-Target) go to the proxy; the
// query-protocol calls the KPL also makes (STS GetCallerIdentity, CloudWatch)
// go to the AWS emulator (moto). Clients must skip certificate checks.
type TLSFront struct {
	ln  net.Listener
	srv *http.Server
}

// NewTLSFront starts a front on 127.0.0.1 for kinesis (the proxy's URL) and
// aws (moto's URL; "" answers those calls with HTTP 501).
func NewTLSFront(kinesis, aws string) (*TLSFront, error) {
	kin, err := url.Parse(kinesis)
	if err != nil {
		return nil, fmt.Errorf("tls front: kinesis URL: %w", err)
	}
	var other *httputil.ReverseProxy
	if aws != "" {
		u, err := url.Parse(aws)
		if err != nil {
			return nil, fmt.Errorf("tls front: AWS emulator URL: %w", err)
		}
		other = httputil.NewSingleHostReverseProxy(u)
		other.ErrorLog = log.New(io.Discard, "", 0)
	}
	kinProxy := httputil.NewSingleHostReverseProxy(kin)
	kinProxy.ErrorLog = log.New(io.Discard, "", 0)
	// The proxy answers some faults by dropping the connection; the client
	// of the front must see a dropped connection too, not an HTTP 502.
	kinProxy.ErrorHandler = func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) }
	cert, err := testcert.Loopback()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tls front: listen on 127.0.0.1: %w", err)
	}
	f := &TLSFront{ln: ln}
	f.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Header.Get("X-Amz-Target") != "":
				kinProxy.ServeHTTP(w, r)
			case other != nil:
				other.ServeHTTP(w, r)
			default:
				http.Error(w, "no AWS emulator behind this front", http.StatusNotImplemented)
			}
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = f.srv.ServeTLS(ln, "", "") }()
	return f, nil
}

// Port is the front's port on 127.0.0.1.
func (f *TLSFront) Port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// Close stops the front.
func (f *TLSFront) Close() error { return f.srv.Close() }
