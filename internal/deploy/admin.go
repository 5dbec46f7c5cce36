package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// connect prepares the HTTP client: TLS settings and authentication.
func (d *deployer) connect() error {
	o := d.opts
	u, err := url.Parse(strings.TrimRight(o.AdminURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--admin-url: must be an http:// or https:// URL, got %q", o.AdminURL)
	}
	d.base = u
	tc, header, err := adminAuth(o)
	if err != nil {
		return err
	}
	d.authHeader = header
	if u.Scheme == "https" || tc.Certificates != nil {
		if err := adminTLS(o, tc); err != nil {
			return err
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	d.client = &http.Client{
		Transport: tr,
		// The worker may redirect to the leader or to the worker that owns
		// the function. Go drops Authorization when the host changes;
		// pulsar-admin authenticates every hop, so do the same.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if d.authHeader != "" {
				req.Header.Set("Authorization", d.authHeader)
			}
			return nil
		},
	}
	return nil
}

// Authentication plugins deploy understands (pulsar-admin class names).
const (
	AuthTokenPlugin = "org.apache.pulsar.client.impl.auth.AuthenticationToken"
	AuthTLSPlugin   = "org.apache.pulsar.client.impl.auth.AuthenticationTls"
)

// adminAuth turns --auth-plugin/--auth-params into a bearer header or a
// client certificate. Parameter values are never shown in errors.
func adminAuth(o *Options) (*tls.Config, string, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch o.AuthPlugin {
	case "", "org.apache.pulsar.client.impl.auth.AuthenticationDisabled":
		if o.AuthParams != "" {
			return nil, "", errors.New("--auth-params: given without --auth-plugin")
		}
		return tc, "", nil
	case AuthTokenPlugin, "token":
		tok, err := tokenFromParams(o.AuthParams)
		if err != nil {
			return nil, "", err
		}
		return tc, "Bearer " + tok, nil
	case AuthTLSPlugin, "tls":
		cert, key, err := tlsParams(o.AuthParams)
		if err != nil {
			return nil, "", err
		}
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, "", fmt.Errorf("--auth-params: cannot load the client certificate %s / key %s: %v", cert, key, err)
		}
		tc.Certificates = []tls.Certificate{c}
		return tc, "", nil
	}
	return nil, "", fmt.Errorf("--auth-plugin: %q is not supported; allowed: %s (or token), %s (or tls)", o.AuthPlugin, AuthTokenPlugin, AuthTLSPlugin)
}

// tokenFromParams reads a token the way AuthenticationToken does:
// "token:<jwt>", "file:<path>" (file:///abs too), a JSON object with
// "token" or "file", or the bare token.
func tokenFromParams(p string) (string, error) {
	p = strings.TrimSpace(p)
	readFile := func(ref string) (string, error) {
		path := ref
		if u, err := url.Parse(ref); err == nil && u.Scheme == "file" {
			path = u.Path
			if path == "" {
				path = u.Opaque
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--auth-params: cannot read the token file %s: %v", path, errors.Unwrap(err))
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("--auth-params: the token file %s is empty", path)
		}
		return tok, nil
	}
	switch {
	case p == "":
		return "", errors.New("--auth-params: the token plugin needs token:<jwt> or file:<path>")
	case strings.HasPrefix(p, "token:"):
		if t := strings.TrimSpace(strings.TrimPrefix(p, "token:")); t != "" {
			return t, nil
		}
		return "", errors.New("--auth-params: token: is empty")
	case strings.HasPrefix(p, "file:"):
		return readFile(p)
	case strings.HasPrefix(p, "{"):
		var m map[string]string
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			return "", errors.New("--auth-params: not a JSON object of strings (want {\"token\":\"...\"} or {\"file\":\"...\"})")
		}
		if t := strings.TrimSpace(m["token"]); t != "" {
			return t, nil
		}
		if f := m["file"]; f != "" {
			return readFile(f)
		}
		return "", errors.New("--auth-params: the JSON has neither \"token\" nor \"file\"")
	}
	return p, nil
}

// tlsParams reads AuthenticationTls parameters: "tlsCertFile:<path>,
// tlsKeyFile:<path>" or the same keys as a JSON object.
func tlsParams(p string) (cert, key string, err error) {
	m := map[string]string{}
	if strings.HasPrefix(strings.TrimSpace(p), "{") {
		if json.Unmarshal([]byte(p), &m) != nil {
			return "", "", errors.New("--auth-params: not a JSON object of strings (want {\"tlsCertFile\":\"...\",\"tlsKeyFile\":\"...\"})")
		}
	} else {
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return "", "", errors.New("--auth-params: want tlsCertFile:<path>,tlsKeyFile:<path>")
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	cert, key = m["tlsCertFile"], m["tlsKeyFile"]
	if cert == "" || key == "" {
		return "", "", errors.New("--auth-params: the TLS plugin needs tlsCertFile and tlsKeyFile")
	}
	return cert, key, nil
}

// adminTLS applies the trust store and the two TLS switches. Without host
// name verification the chain is still verified against the trust store:
// only the name check is skipped, as pulsar-admin does by default.
func adminTLS(o *Options, tc *tls.Config) error {
	var roots *x509.CertPool
	if o.TLSTrustCertPath != "" {
		pem, err := os.ReadFile(o.TLSTrustCertPath)
		if err != nil {
			return fmt.Errorf("--tls-trust-cert-path: %v", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--tls-trust-cert-path: %s holds no PEM certificate", o.TLSTrustCertPath)
		}
	}
	// ServerName stays empty: the transport sets it per connection, so a
	// redirect to another worker is checked against that worker's name.
	tc.RootCAs = roots
	switch {
	case o.TLSAllowInsecure:
		tc.InsecureSkipVerify = true
	case !o.TLSHostnameVerification:
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the admin server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return nil
}

// workerError is a refusal from the worker, with the YAML field it is
// about when the message allows a guess.
type workerError struct {
	status int
	reason string
	field  string
}

func (e *workerError) Error() string {
	if e.field != "" {
		return fmt.Sprintf("%q: %s (worker HTTP %d)", e.field, e.reason, e.status)
	}
	return fmt.Sprintf("the worker answered HTTP %d: %s", e.status, e.reason)
}

// workerReasonFields maps the worker's refusal messages (FunctionConfigUtils
// validate and validateUpdate) to the sink config file field to change.
var workerReasonFields = []struct{ contains, field string }{
	{"Tenants differ", "tenant"},
	{"Namespaces differ", "namespace"},
	{"Function Names differ", "name"},
	{"Input Topics cannot be altered", "inputs"},
	{"isRegexPattern for input topic", "topicsPattern"},
	{"Input topic", "inputs"},
	{"No input topic", "inputs"},
	{"Processing Guarantees cannot be altered", "processingGuarantees"},
	{"Retain Ordering cannot be altered", "retainOrdering"},
	{"Retain Key Ordering cannot be altered", "retainKeyOrdering"},
	{"Subscription Name cannot be altered", "sourceSubscriptionName"},
	{"Subscription Position", "sourceSubscriptionPosition"},
	{"AutoAck cannot be altered", "autoAck"},
	{"parallelism", "parallelism"},
	{"timeout", "timeoutMs"},
	{"LogTopic", "logTopic"},
	{"LogLevel", "logLevel"},
	{"RAM", "resources.ram"},
	{"CPU", "resources.cpu"},
	{"Disk", "resources.disk"},
	{"already exists", "name"},
	{"doesn't exist", "name"},
	{"does not exist", "name"},
	{"Secrets", "secrets"},
}

func newWorkerError(status int, body []byte) *workerError {
	reason := strings.TrimSpace(string(body))
	var r struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &r) == nil && r.Reason != "" {
		reason = r.Reason
	}
	reason = strings.Join(strings.Fields(reason), " ")
	if len(reason) > 400 {
		reason = reason[:400] + "…"
	}
	if reason == "" {
		reason = http.StatusText(status)
	}
	e := &workerError{status: status, reason: reason}
	for _, m := range workerReasonFields {
		if strings.Contains(strings.ToLower(reason), strings.ToLower(m.contains)) {
			e.field = m.field
			break
		}
	}
	switch {
	case e.field == "name" && strings.Contains(reason, "Package ") && strings.Contains(reason, "metadata already exists"):
		// pulsar-admin functions delete leaves the uploaded executable.
		e.reason += "; a deleted function of this name left its package behind: remove it with pulsar-admin packages delete " +
			"(deploy delete removes both)"
	case e.field == "name" && strings.Contains(reason, "already exists"):
		e.reason += "; use deploy update"
	case e.field == "name" || (status == http.StatusNotFound && e.field == ""):
		e.field = "name"
		e.reason += "; use deploy create"
	}
	return e
}

// call sends one admin request. body, when not nil, is sent with the given
// content type and length; out, when not nil, receives the JSON answer.
func (d *deployer) call(ctx context.Context, method, path string, body *requestBody, contentType string, out any) error {
	u := *d.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	var rd io.Reader
	if body != nil {
		r, err := body.open()
		if err != nil {
			return err
		}
		defer r.Close()
		rd = r
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.ContentLength = body.size
		req.GetBody = func() (io.ReadCloser, error) { return body.open() }
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if d.authHeader != "" {
		req.Header.Set("Authorization", d.authHeader)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %v", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %v", method, u.Redacted(), err)
	}
	if resp.StatusCode >= 300 {
		return newWorkerError(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %v", method, u.Redacted(), err)
		}
	}
	return nil
}

// requestBody is a multipart body whose middle part is a file: it is sent
// with its exact length (no chunked encoding) and can be re-read for a
// redirect without holding the executable in memory.
type requestBody struct {
	prefix, suffix []byte
	file           string
	size           int64
}

func (b *requestBody) open() (io.ReadCloser, error) {
	if b.file == "" {
		return io.NopCloser(io.MultiReader(bytes.NewReader(b.prefix), bytes.NewReader(b.suffix))), nil
	}
	f, err := os.Open(b.file)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b.prefix), io.LimitReader(f, b.size-int64(len(b.prefix)+len(b.suffix))),
		bytes.NewReader(b.suffix)), f}, nil
}

// multipartBody builds the form /admin/v3/functions takes: functionConfig
// (JSON), then either data (the executable) or url (a package the worker
// fetches).
func multipartBody(fc *functionConfig, pkg deployPackage) (*requestBody, string, error) {
	cfgJSON, err := json.Marshal(fc)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="functionConfig"`)
	h.Set("Content-Type", "application/json")
	pw, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	pw.Write(cfgJSON)
	body := &requestBody{}
	switch {
	case pkg.path != "":
		st, err := os.Stat(pkg.path)
		if err != nil {
			return nil, "", err
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="data"; filename=%q`, filepath.Base(pkg.path)))
		h.Set("Content-Type", "application/octet-stream")
		if _, err := w.CreatePart(h); err != nil {
			return nil, "", err
		}
		body.prefix = bytes.Clone(buf.Bytes())
		buf.Reset()
		body.file = pkg.path
		body.size = st.Size()
	case pkg.url != "":
		if err := w.WriteField("url", pkg.url); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	if body.file == "" {
		body.prefix = bytes.Clone(buf.Bytes())
	} else {
		body.suffix = bytes.Clone(buf.Bytes())
	}
	body.size += int64(len(body.prefix) + len(body.suffix))
	return body, w.FormDataContentType(), nil
}

func (d *deployer) upload(ctx context.Context, id functionID, fc *functionConfig, pkg deployPackage) error {
	body, ct, err := multipartBody(fc, pkg)
	if err != nil {
		return err
	}
	method := http.MethodPost
	if d.opts.Action == "update" {
		method = http.MethodPut
	}
	return d.call(ctx, method, id.path(""), body, ct, nil)
}

// deletePackages removes the executable the worker kept as a package
// (function://tenant/namespace/name@version): it stays after the function
// is deleted, and the worker refuses to create a function of the same name
// while it exists. It reports whether it deleted any. A worker without the
// packages service (enablePackagesManagement=false, Pulsar's default) keeps
// uploads elsewhere and has none to delete; any other failure is a note, the
// function being gone already.
func (d *deployer) deletePackages(ctx context.Context, id functionID) bool {
	p := "/admin/v3/packages/function/" + url.PathEscape(id.tenant) + "/" + url.PathEscape(id.namespace) + "/" + url.PathEscape(id.name)
	var versions []string
	if err := d.call(ctx, http.MethodGet, p, nil, "", &versions); err != nil {
		var we *workerError
		if !errors.As(err, &we) || (we.status != http.StatusNotFound && !strings.Contains(strings.ToLower(we.reason), "not enabled")) {
			d.note("the uploaded executable (package function://%s) may be left: listing its versions: %v", id, err)
		}
		return false
	}
	deleted := false
	for _, v := range versions {
		// The listing keeps a version whose package was deleted (Pulsar 4.0.8
		// lists the storage path); its metadata is gone, and deleting it again
		// fails with a 500.
		var meta json.RawMessage
		var we *workerError
		if err := d.call(ctx, http.MethodGet, p+"/"+url.PathEscape(v)+"/metadata", nil, "", &meta); errors.As(err, &we) && we.status == http.StatusNotFound {
			continue
		}
		if err := d.call(ctx, http.MethodDelete, p+"/"+url.PathEscape(v), nil, "", nil); err != nil {
			var we *workerError
			if !errors.As(err, &we) || we.status != http.StatusNotFound {
				d.note("package function://%s@%s is left (a function of this name cannot be created again until it is deleted): %v", id, v, err)
			}
			continue
		}
		deleted = true
		fmt.Fprintf(d.stdout, "deleted package function://%s@%s\n", id, v)
	}
	return deleted
}

// allRunning reports whether every instance runs, and as many as want
// when it is known.
func allRunning(st *FunctionStatus, want int) bool {
	return st.NumInstances > 0 && st.NumRunning == st.NumInstances && (want == 0 || st.NumInstances == want)
}

// restartGrace bounds how long waitRunning looks for a sign that an update
// restarted the instances before it settles for "all running".
const restartGrace = 15 * time.Second

// waitRunning polls the status until every instance runs. After an update
// (before is the status just before it) the old instances answer "running"
// until the worker replaces them, and the status carries no version, so it
// first waits for a sign of the restart: an instance not running, counters
// going back, a different instance count, or a status error.
//
// want is the parallelism the deployment asked for (0: unknown, as for an
// update that leaves it): the worker's status lists the instances it has
// scheduled so far, so "1 of 1 running" can come before the second of two.
func (d *deployer) waitRunning(ctx context.Context, id functionID, timeout time.Duration, before *FunctionStatus, want int) error {
	start := time.Now()
	deadline := start.Add(timeout)
	restarted := before == nil
	var last FunctionStatus
	var lastErr error
	for {
		var st FunctionStatus
		lastErr = d.call(ctx, http.MethodGet, id.path("/status"), nil, "", &st)
		if !restarted && (lastErr != nil || statusRestarted(before, &st) || time.Since(start) > min(restartGrace, timeout/2)) {
			restarted = true
		}
		if lastErr == nil {
			last = st
			if restarted && allRunning(&st, want) {
				printStatus(d.stdout, id, &st)
				return nil
			}
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return fmt.Errorf("not running after %s: %v", timeout, lastErr)
	}
	msg := fmt.Sprintf("not running after %s: %d of %d instances running", timeout, last.NumRunning, last.NumInstances)
	if want > 0 && last.NumInstances != want {
		msg += fmt.Sprintf(" (parallelism %d asked)", want)
	}
	var restarts int64
	for _, in := range last.Instances {
		restarts += in.Status.NumRestarts
	}
	if restarts > 0 {
		msg += fmt.Sprintf(", %d restarts", restarts)
	}
	for _, in := range last.Instances {
		if e := strings.Join(strings.Fields(in.Status.Error), " "); e != "" && e != "java.lang.RuntimeException:" {
			msg += fmt.Sprintf("; instance %d: %s", in.InstanceID, e)
			break
		}
	}
	// The process runtime passes the instance's output to the worker's
	// own log, not to the status.
	return errors.New(msg + " (the instances' output is in the function worker's log)")
}

// waitGone polls until the worker no longer knows the function.
func (d *deployer) waitGone(ctx context.Context, id functionID, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := d.call(ctx, http.MethodGet, id.path(""), nil, "", nil)
		var we *workerError
		if errors.As(err, &we) && we.status == http.StatusNotFound {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("function %s still present after %s", id, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
