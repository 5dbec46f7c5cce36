package schemafetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch/wirepb"
)

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("schemafetch: fetcher is closed")

// BrokerError is the broker's refusal of a schema lookup.
type BrokerError struct {
	// Topic is the base topic asked for (partition suffix removed).
	Topic string
	// Version is the version asked for; nil means the latest.
	Version []byte
	// Code is the broker's ServerError name, e.g. "TopicNotFound", which
	// is also what the broker answers for a topic without that schema.
	Code    string
	Message string
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("schemafetch: topic %s schema version %s: broker answered %s: %s",
		e.Topic, versionString(e.Version), e.Code, e.Message)
}

// IsNotFound reports whether err says the topic or that schema version
// does not exist (the broker does not tell the two apart).
func IsNotFound(err error) bool {
	var be *BrokerError
	return errors.As(err, &be) && be.Code == wirepb.ServerError_TopicNotFound.String()
}

type cacheKey struct {
	topic   string // full base topic name
	version string // hex of the version bytes; "" for the latest
}

// flight is one lookup in progress; later callers for the same key wait on
// it instead of asking the broker again.
type flight struct {
	done   chan struct{}
	schema *record.Schema
	err    error
}

// dialCall is one connection attempt in progress, shared the same way.
type dialCall struct {
	done chan struct{}
	c    *conn
	err  error
}

// Fetcher fetches and caches topic schemas by version. It is safe for
// concurrent use.
type Fetcher struct {
	serviceURL string
	addrs      []string
	tls        *tls.Config // nil for pulsar://
	initErr    error       // a bad service URL, TLS or auth setting, reported by Get
	opts       Options
	ownsAuth   bool // opts.Auth was made from AuthPlugin, so Close closes it

	ctx    context.Context // ends at Close, ending lookups in progress
	cancel context.CancelFunc

	nextReqID atomic.Uint64
	requests  atomic.Uint64

	mu       sync.Mutex
	closed   bool
	cache    map[cacheKey]*record.Schema
	flights  map[cacheKey]*flight
	cn       *conn
	dialing  *dialCall
	nextAddr int // where the next dial starts: the last host that worked
}

// New makes a Fetcher for the broker service URL (pulsar://host:port or
// pulsar+ssl://host:port, several hosts separated by commas). It does not
// connect: the first Get does. A configuration error is reported by Err
// and by every Get.
func New(serviceURL string, opts Options) *Fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{
		serviceURL: serviceURL,
		opts:       opts.withDefaults(),
		ctx:        ctx,
		cancel:     cancel,
		cache:      make(map[cacheKey]*record.Schema),
		flights:    make(map[cacheKey]*flight),
	}
	var useTLS bool
	f.addrs, useTLS, f.initErr = parseServiceURL(serviceURL)
	if f.initErr == nil && useTLS {
		f.tls, f.initErr = tlsConfig(f.opts)
	}
	if f.initErr == nil {
		f.opts.Auth, f.ownsAuth, f.initErr = f.opts.authProvider()
	}
	return f
}

// Err reports the configuration error (service URL, TLS trust file, auth
// plugin) that makes every Get fail, or nil; check it after New to fail at
// start-up rather than on the first record.
func (f *Fetcher) Err() error { return f.initErr }

// Get returns the schema of topic at version (the bytes a message carries
// as its schema version), asking the broker only the first time. A
// partition name ("...-partition-3") gets its parent topic's schema. An
// empty version asks for the latest schema; that answer is cached under the
// version the broker names, but the question itself is always asked anew.
// The returned Schema is shared and must not be modified.
func (f *Fetcher) Get(ctx context.Context, topic string, version []byte) (*record.Schema, error) {
	if f.initErr != nil {
		return nil, f.initErr
	}
	base, err := baseTopic(topic)
	if err != nil {
		return nil, err
	}
	key := cacheKey{base, hex.EncodeToString(version)}

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	if s, ok := f.cache[key]; ok && len(version) > 0 {
		f.mu.Unlock()
		return s, nil
	}
	fl := f.flights[key]
	if fl == nil {
		fl = &flight{done: make(chan struct{})}
		f.flights[key] = fl
		// The Schema keeps the version; the caller's slice is not ours.
		go f.run(key, base, bytes.Clone(version), fl)
	}
	f.mu.Unlock()

	select {
	case <-fl.done:
		return fl.schema, fl.err
	case <-ctx.Done():
		return nil, fmt.Errorf("schemafetch: topic %s schema version %s: %w", base, versionString(version), ctx.Err())
	}
}

// run performs one lookup on its own context, so that the first caller
// giving up does not fail the others waiting on the same flight.
func (f *Fetcher) run(key cacheKey, base string, version []byte, fl *flight) {
	ctx, cancel := context.WithTimeout(f.ctx, f.opts.RequestTimeout)
	defer cancel()
	fl.schema, fl.err = f.fetch(ctx, base, version)

	f.mu.Lock()
	delete(f.flights, key)
	if fl.err == nil && len(fl.schema.Version) > 0 {
		f.cache[cacheKey{base, hex.EncodeToString(fl.schema.Version)}] = fl.schema
	}
	f.mu.Unlock()
	close(fl.done)
}

func (f *Fetcher) fetch(ctx context.Context, base string, version []byte) (*record.Schema, error) {
	wrap := func(err error) error {
		return fmt.Errorf("schemafetch: topic %s schema version %s: %w", base, versionString(version), err)
	}
	for attempt := 0; ; attempt++ {
		c, err := f.conn(ctx)
		if err != nil {
			return nil, wrap(err)
		}
		id := f.nextReqID.Add(1)
		req := &wirepb.BaseCommand{
			Type: wirepb.BaseCommand_GET_SCHEMA.Enum(),
			GetSchema: &wirepb.CommandGetSchema{
				RequestId:     proto.Uint64(id),
				Topic:         proto.String(base),
				SchemaVersion: version,
			},
		}
		f.requests.Add(1)
		resp, err := c.request(ctx, id, req, f.opts.RequestTimeout)
		if err != nil {
			var ce *connError
			if errors.As(err, &ce) && attempt == 0 && ctx.Err() == nil {
				// A reused connection may have died while idle (broker
				// restart, idle timeout); one fresh connection is worth
				// a try before failing the lookup.
				continue
			}
			return nil, wrap(err)
		}
		return f.answer(base, version, resp)
	}
}

func (f *Fetcher) answer(base string, version []byte, resp *wirepb.BaseCommand) (*record.Schema, error) {
	if resp.GetType() == wirepb.BaseCommand_ERROR {
		e := resp.GetError()
		return nil, &BrokerError{Topic: base, Version: version, Code: e.GetError().String(), Message: e.GetMessage()}
	}
	r := resp.GetGetSchemaResponse()
	if r.ErrorCode != nil {
		return nil, &BrokerError{Topic: base, Version: version, Code: r.GetErrorCode().String(), Message: r.GetErrorMessage()}
	}
	if r.Schema == nil {
		return nil, &BrokerError{Topic: base, Version: version, Code: wirepb.ServerError_TopicNotFound.String(), Message: "answer carries no schema"}
	}
	v := version
	if len(v) == 0 {
		v = r.GetSchemaVersion()
	}
	s, err := convertSchema(r.Schema, v)
	if err != nil {
		return nil, fmt.Errorf("schemafetch: topic %s schema version %s: %w", base, versionString(version), err)
	}
	return s, nil
}

// conn returns the live connection, dialling one if there is none. Callers
// arriving during a dial share its outcome.
func (f *Fetcher) conn(ctx context.Context) (*conn, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	if f.cn != nil && !f.cn.isClosed() {
		c := f.cn
		f.mu.Unlock()
		return c, nil
	}
	d := f.dialing
	if d == nil {
		d = &dialCall{done: make(chan struct{})}
		f.dialing = d
		start := f.nextAddr
		f.mu.Unlock()

		d.c, d.err = f.dialAny(ctx, start)

		f.mu.Lock()
		f.dialing = nil
		if d.err == nil {
			if f.closed {
				d.c.close(ErrClosed)
				d.c, d.err = nil, ErrClosed
			} else {
				f.cn = d.c
			}
		}
		f.mu.Unlock()
		close(d.done)
		return d.c, d.err
	}
	f.mu.Unlock()
	select {
	case <-d.done:
		return d.c, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialErrors is every host's failure, on one line, each still matchable
// with errors.Is/As.
type dialErrors []error

func (e dialErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e dialErrors) Unwrap() []error { return e }

// dialAny tries every host of the service URL once, beginning with start.
func (f *Fetcher) dialAny(ctx context.Context, start int) (*conn, error) {
	var errs dialErrors
	for i := range f.addrs {
		idx := (start + i) % len(f.addrs)
		dctx, cancel := context.WithTimeout(ctx, f.opts.ConnectTimeout)
		c, err := dialConn(dctx, f.addrs[idx], f.tls, f.opts.Auth, f.opts.ClientVersion)
		cancel()
		if err == nil {
			f.mu.Lock()
			f.nextAddr = idx
			f.mu.Unlock()
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no broker of %s reachable: %w", f.serviceURL, errs)
}

// Requests is how many GetSchema commands the Fetcher has sent, retries
// included; cache hits and shared lookups send none.
func (f *Fetcher) Requests() uint64 { return f.requests.Load() }

// Close ends lookups in progress and the connection. A provider passed as
// Options.Auth is left open (it belongs to the caller); one made from
// AuthPlugin is closed.
func (f *Fetcher) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	c := f.cn
	f.cn = nil
	f.mu.Unlock()
	f.cancel()
	if c != nil {
		c.close(ErrClosed)
	}
	if f.ownsAuth {
		_ = f.opts.Auth.Close()
	}
}
