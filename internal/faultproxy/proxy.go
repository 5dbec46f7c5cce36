// Package faultproxy is an HTTP proxy in front of a Kinesis emulator
// (kinesalite) that injects the failures real Kinesis produces and the
// emulator never does.
//
// It exists because kinesalite never throttles and never fails part of a
// PutRecords call (FailedRecordCount is always 0), and has no knobs for
// latency, errors or outages. The producer's most important paths (retry
// only the failed entries, per-shard backoff, whole-request errors, timeouts,
// outages, ordering under retries) would otherwise be untested, or tested
// against a fake that answers whatever the test expects. With the proxy the
// records that do get through are stored and read back from the real
// emulator, so tests still check real outcomes.
//
// Its shard-limit mode (Rules.ShardLimit) gives each shard Kinesis's write
// limits, so that how close a producer runs to a shard's limit, and how
// much it gets throttled there, can be measured against an emulator that
// has none.
//
// What each call meets is decided by an Injector (inject.go), as a
// kinesisfake.Fault the proxy carries out over HTTP; the same injector is
// the in-process model's fault hook (Injector.ModelFault), so that tests
// on the model and tests behind the proxy mean the same by a rule.
//
// Faults apply to PutRecords calls (X-Amz-Target Kinesis_20131202.PutRecords)
// except Unreachable, which applies to every connection, and FailListShards.
// Every other call is passed through untouched. Rules can be changed at any time with
// SetRules; random choices come from a generator seeded in New, so a given
// sequence of requests meets the same faults. Counters reports what the
// proxy did.
package faultproxy

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

// PutRecordsTarget is the X-Amz-Target of the calls the proxy tampers with.
const PutRecordsTarget = "Kinesis_20131202.PutRecords"

// Per-entry error codes Kinesis returns in a PutRecords response.
const (
	CodeThrottled       = "ProvisionedThroughputExceededException"
	CodeInternalFailure = "InternalFailure"
)

// Rules say which faults to inject. The zero value injects nothing.
// Fractions are probabilities in [0, 1], drawn per request (or per entry).
type Rules struct {
	// DropFraction of PutRecords entries are not forwarded; the response
	// reports them as failed with DropCode (index-aligned, with
	// FailedRecordCount counting them) while the others are written.
	DropFraction float64
	// DropCode is CodeThrottled (the default) or CodeInternalFailure.
	// Throttling messages name the entry's shard as Kinesis does.
	DropCode string

	// ShardOutages fail every entry routed to a shard (by MD5 of the
	// partition key, or the explicit hash key, against the emulator's shard
	// hash-key ranges) until a time.
	ShardOutages []ShardOutage

	// ErrorFraction of PutRecords requests are answered, without
	// forwarding, with HTTP ErrorStatus (default 500) and, when ErrorCode is
	// set, a JSON error body {"__type": ErrorCode}. With ErrorStatus 500 and
	// no ErrorCode the code is InternalFailure.
	ErrorFraction float64
	ErrorStatus   int
	ErrorCode     string

	// ResetFraction of PutRecords requests have their connection reset
	// without a response, before forwarding (nothing written).
	ResetFraction float64
	// ResetAfterForwardFraction of PutRecords requests are forwarded
	// (written) and then have their connection reset: the client cannot
	// know the records were stored, and retries write duplicates.
	ResetAfterForwardFraction float64

	// DelayFraction of PutRecords requests get their response held back by
	// Delay after forwarding (the records are written at once).
	DelayFraction float64
	Delay         time.Duration

	// UnreachableUntil makes the proxy refuse service until that time:
	// new connections are closed as soon as they are accepted and requests
	// on open connections are answered by closing them. Any call.
	UnreachableUntil time.Time

	// FailListShards answers every ListShards call with HTTP 400
	// AccessDeniedException without forwarding it, as Kinesis does for a
	// role without kinesis:ListShards: the producer then has no shard map.
	FailListShards bool

	// Scripted faults hit PutRecords requests named by number, 1 being the
	// first the proxy received (as Counters.PutRecords counts them, retries
	// included). A named request meets its scripted faults and none the
	// fractions draw for it, which could pre-empt them (a reset before
	// forwarding leaves nothing to reset after); its draws are still made,
	// so the other requests meet what the seed gives them without names.
	// A test that asserts on a fault names requests that meet it, so that
	// the fault happens on every run; a fraction can miss a short run
	// altogether. A client that retries what failed sends request k+1
	// after a fault on request k, so faults named on requests 1 to k all
	// happen.
	ResetRequests             []int64 // reset before forwarding, as ResetFraction
	ResetAfterForwardRequests []int64 // forwarded, then reset, as ResetAfterForwardFraction
	ErrorRequests             []int64 // answered with ErrorStatus and ErrorCode, as ErrorFraction
	DelayRequests             []int64 // response held back by Delay, as DelayFraction
	DropRequests              []int64 // every entry answered as failed with DropCode, as DropFraction

	// ShardLimit, when set, gives every shard Kinesis's write limits: an
	// entry its shard cannot take now is answered
	// ProvisionedThroughputExceededException, as Kinesis answers it, and
	// not forwarded. Neither emulator the tests use (kinesalite, the
	// benchmark's do-nothing endpoint) has any limit.
	ShardLimit *ShardLimit
}

// ShardLimit is a shard's write limits, as the in-process Kinesis model
// keeps them (one implementation of Kinesis's limits for every test):
// records (an aggregated record is one record) and bytes of data plus
// partition key per shard and second, each a token bucket holding Burst
// seconds of its limit.
type ShardLimit = kinesisfake.ShardLimit

// KinesisShardLimit is the write limit of a provisioned Kinesis shard.
func KinesisShardLimit() *ShardLimit {
	l := kinesisfake.KinesisShardLimit()
	return &l
}

// ShardOutage fails all entries for one shard until Until.
type ShardOutage struct {
	Stream  string
	ShardID string // e.g. "shardId-000000000001"
	Until   time.Time
	// Code is the per-entry error code; default CodeThrottled.
	Code string
}

// Counters say what the proxy did since New.
type Counters struct {
	Requests         int64 // every HTTP request received
	PutRecords       int64 // PutRecords requests received
	Forwarded        int64 // requests (any call) forwarded to the target
	EntriesForwarded int64 // PutRecords entries forwarded
	EntriesDropped   int64 // entries answered as failed by DropFraction
	EntriesShardDown int64 // entries answered as failed by a ShardOutage
	HTTPErrors       int64 // requests answered with ErrorStatus
	Resets           int64 // connections reset before forwarding
	ResetsAfterWrite int64 // connections reset after forwarding
	Delayed          int64 // responses held back by Delay
	Refused          int64 // connections/requests refused while unreachable
	ListShardsFailed int64 // ListShards calls answered by FailListShards
	// EntriesOverLimit are entries answered as throttled by ShardLimit;
	// EntriesUnderLimit the entries it let through, per request and
	// attempt (so the throttled fraction is Over / (Over + Under)).
	EntriesOverLimit, EntriesUnderLimit int64
	Held                                int64 // requests that waited at the Hold gate
	ShardMapFailures                    int64 // ListShards calls to the target that failed
	// StreamARNRequests are requests that named their stream by StreamARN,
	// by the call's X-Amz-Target (see translateStreamARN).
	StreamARNRequests map[string]int64
	ForwardFailures   int64 // forwards that failed (target down)
}

// Proxy is a running fault-injecting proxy bound to 127.0.0.1: it carries
// out its Injector's decisions over HTTP.
type Proxy struct {
	target string
	ln     net.Listener
	srv    *http.Server
	client *http.Client
	in     *Injector

	mu       sync.Mutex
	shardMap map[string][]shardRange
	now      func() time.Time // time.Now; tests move it by hand
}

type shardRange struct {
	id         string
	start, end *big.Int
}

// New starts a proxy for target (the emulator's base URL, e.g.
// "http://127.0.0.1:4567") on 127.0.0.1 with a free port. seed drives every
// random choice.
func New(target string, seed uint64) (*Proxy, error) {
	target = strings.TrimRight(target, "/")
	if !strings.HasPrefix(target, "http://") {
		return nil, fmt.Errorf("faultproxy target %q: allowed an http:// URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on 127.0.0.1: %w", err)
	}
	p := &Proxy{
		target:   target,
		in:       NewInjector(seed),
		shardMap: make(map[string][]shardRange),
		now:      time.Now,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	p.ln = &refusingListener{Listener: ln, p: p}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(p.ln)
	return p, nil
}

// URL is the proxy's base URL, to use as the Kinesis endpoint.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.Release()
	err := p.srv.Close()
	p.client.CloseIdleConnections()
	return err
}

// SetRules replaces the rules; requests already past a decision keep it.
func (p *Proxy) SetRules(r Rules) { p.in.SetRules(r) }

// Rules returns the current rules.
func (p *Proxy) Rules() Rules { return p.in.Rules() }

// SetClock replaces the clock ShardLimit refills by (time.Now), so that a
// test can move time by hand and count tokens exactly.
func (p *Proxy) SetClock(now func() time.Time) {
	p.mu.Lock()
	p.now = now
	p.mu.Unlock()
}

// Counters returns a snapshot of the counters.
func (p *Proxy) Counters() Counters { return p.in.Counters() }

// translateStreamARN rewrites a request that names its stream by StreamARN
// into one naming it by StreamName. kinesalite predates StreamARN (it
// answers "Value null at 'streamName'"), while Kinesis accepts either; this
// lets a producer that sends StreamARN be tested against it, and the
// counters show that it did. ok is false when the request has no StreamARN.
func translateStreamARN(body []byte) (out []byte, ok bool, err error) {
	if !bytes.Contains(body, []byte(`"StreamARN"`)) {
		return nil, false, nil
	}
	var req map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil {
		return nil, false, nil // the emulator answers malformed input
	}
	var arn string
	if json.Unmarshal(req["StreamARN"], &arn) != nil {
		return nil, false, nil
	}
	// arn:<partition>:kinesis:<region>:<account>:stream/<name>
	parts := strings.SplitN(arn, ":", 6)
	name, isStream := "", false
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kinesis" {
		name, isStream = strings.CutPrefix(parts[5], "stream/")
	}
	if !isStream || name == "" {
		return nil, false, fmt.Errorf("StreamARN %q is not a stream ARN", arn)
	}
	// Both may be given (the KPL sends both), when they name one stream.
	if raw, both := req["StreamName"]; both {
		var given string
		if json.Unmarshal(raw, &given) != nil || given != name {
			return nil, false, fmt.Errorf("StreamName %s and StreamARN %q name different streams", raw, arn)
		}
	}
	delete(req, "StreamARN")
	req["StreamName"], _ = json.Marshal(name)
	out, _ = json.Marshal(req)
	return out, true, nil
}

// Hold makes PutRecords requests wait (before forwarding) until Release,
// so that tests can hold a producer's requests in flight deterministically.
func (p *Proxy) Hold() { p.in.Hold() }

// Release lets held requests, and later ones, through.
func (p *Proxy) Release() { p.in.Release() }

// HashKey is the 128-bit hash key Kinesis routes an entry by: the explicit
// hash key when given, else MD5 of the UTF-8 partition key read as a
// big-endian integer.
func HashKey(partitionKey, explicitHashKey string) (*big.Int, error) {
	if explicitHashKey != "" {
		v, ok := new(big.Int).SetString(explicitHashKey, 10)
		if !ok {
			return nil, fmt.Errorf("explicit hash key %q: not a decimal integer", explicitHashKey)
		}
		return v, nil
	}
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:]), nil
}

// ShardFor returns the open shard of stream that receives an entry, using
// the emulator's current shard map.
func (p *Proxy) ShardFor(ctx context.Context, stream, partitionKey, explicitHashKey string) (string, error) {
	h, err := HashKey(partitionKey, explicitHashKey)
	if err != nil {
		return "", err
	}
	return p.shardFor(ctx, stream, h)
}

func (p *Proxy) shardFor(ctx context.Context, stream string, h *big.Int) (string, error) {
	for attempt := 0; attempt < 2; attempt++ {
		p.mu.Lock()
		ranges, ok := p.shardMap[stream]
		p.mu.Unlock()
		if !ok || attempt == 1 {
			var err error
			if ranges, err = p.listShards(ctx, stream); err != nil {
				p.in.count(func(c *Counters) { c.ShardMapFailures++ })
				return "", err
			}
			p.mu.Lock()
			p.shardMap[stream] = ranges
			p.mu.Unlock()
		}
		for _, r := range ranges {
			if h.Cmp(r.start) >= 0 && h.Cmp(r.end) <= 0 {
				return r.id, nil
			}
		}
	}
	return "", fmt.Errorf("stream %q: no open shard covers hash key %s", stream, h)
}

// listShards asks the target for the stream's open shards. kinesalite
// checks that an Authorization header is well formed but not the signature,
// so a fixed one does.
func (p *Proxy) listShards(ctx context.Context, stream string) ([]shardRange, error) {
	body, _ := json.Marshal(map[string]string{"StreamName": stream})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListShards")
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDFAULTPROXY/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list shards of %q: %w", stream, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("list shards of %q: %w", stream, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list shards of %q: HTTP %d: %.200s", stream, resp.StatusCode, raw)
	}
	var out struct {
		Shards []struct {
			ShardId      string
			HashKeyRange struct {
				StartingHashKey, EndingHashKey string
			}
			SequenceNumberRange struct {
				EndingSequenceNumber *string
			}
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("list shards of %q: %w", stream, err)
	}
	var ranges []shardRange
	for _, s := range out.Shards {
		if s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed by a reshard; receives nothing
		}
		start, ok1 := new(big.Int).SetString(s.HashKeyRange.StartingHashKey, 10)
		end, ok2 := new(big.Int).SetString(s.HashKeyRange.EndingHashKey, 10)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("list shards of %q: bad hash key range for %s", stream, s.ShardId)
		}
		ranges = append(ranges, shardRange{id: s.ShardId, start: start, end: end})
	}
	return ranges, nil
}

// refusingListener closes connections while the proxy is unreachable, so
// that new connections fail as they would against a host that is down.
type refusingListener struct {
	net.Listener
	p *Proxy
}

func (l *refusingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.p.in.unreachable(time.Now()) {
			return c, nil
		}
		l.p.in.count(func(c *Counters) { c.Refused++ })
		resetConn(c)
	}
}

// resetConn closes with an RST rather than a FIN, as a crashed peer or a
// load balancer dropping the connection would.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// hangUp closes the request's connection without answering.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	resetConn(c)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, "Kinesis_20131202.")
	if op == target {
		op = "" // not a Kinesis call: no rule names it
	}
	f, num, stop := p.in.admit(op, time.Now())
	if stop {
		p.carryOut(w, r, f)
		return
	}
	if translated, ok, err := translateStreamARN(body); err != nil {
		writeErrorMessage(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	} else if ok {
		body = translated
		p.in.count(func(c *Counters) {
			if c.StreamARNRequests == nil {
				c.StreamARNRequests = map[string]int64{}
			}
			c.StreamARNRequests[target]++
		})
	}
	if target != PutRecordsTarget {
		p.passThrough(w, r, body)
		return
	}
	if p.in.Wait(r.Context()) != nil {
		return
	}
	p.putRecords(w, r, body, num)
}

// carryOut answers a call refused before it is processed.
func (p *Proxy) carryOut(w http.ResponseWriter, r *http.Request, f kinesisfake.Fault) {
	switch {
	case f.Unreachable, f.Reset:
		hangUp(w)
	case f.Timeout:
		<-r.Context().Done()
	case f.Error != nil:
		writeError(w, f.Error.HTTPStatus(), f.Error.Code)
	}
}

type putRecordsEntry struct {
	Data            string // base64
	PartitionKey    string
	ExplicitHashKey string
}

// size is what Kinesis counts of an entry against its shard: data plus
// partition key bytes.
func (e *putRecordsEntry) size() int {
	return base64.StdEncoding.DecodedLen(len(e.Data)) - strings.Count(e.Data[max(len(e.Data)-2, 0):], "=") + len(e.PartitionKey)
}

// putRecords serves PutRecords request number num: the injector decides,
// the proxy forwards what is to be written and answers for the rest.
func (p *Proxy) putRecords(w http.ResponseWriter, r *http.Request, body []byte, num int64) {
	var req map[string]json.RawMessage
	var entries []json.RawMessage
	var stream string
	if json.Unmarshal(body, &req) != nil || json.Unmarshal(req["Records"], &entries) != nil {
		p.passThrough(w, r, body) // let the emulator answer malformed input
		return
	}
	_ = json.Unmarshal(req["StreamName"], &stream)

	parsed := make([]*putRecordsEntry, len(entries))
	bad := make([]bool, len(entries)) // an entry that does not parse has no shard; the emulator answers it
	entry := func(i int) *putRecordsEntry {
		if parsed[i] == nil {
			parsed[i] = &putRecordsEntry{}
			bad[i] = json.Unmarshal(entries[i], parsed[i]) != nil
		}
		return parsed[i]
	}
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	d := p.in.decidePut(putCall{num: num, stream: stream, entries: len(entries), now: now,
		shard: func(i int) string {
			e := entry(i)
			if bad[i] {
				return ""
			}
			h, err := HashKey(e.PartitionKey, e.ExplicitHashKey)
			if err != nil {
				return ""
			}
			shard, _ := p.shardFor(r.Context(), stream, h)
			return shard
		},
		size: func(i int) int { return entry(i).size() },
	})
	if d.Reset || d.Timeout || d.Error != nil {
		p.carryOut(w, r, d.Fault)
		return
	}

	failed := make([]json.RawMessage, len(entries)) // nil: forwarded
	var forward []json.RawMessage
	for i, raw := range entries {
		if d.EntryErrors == nil || d.EntryErrors[i] == "" {
			forward = append(forward, raw)
			continue
		}
		code, msg := entryError(d.EntryErrors[i], stream, d.shards[i])
		failed[i], _ = json.Marshal(map[string]string{"ErrorCode": code, "ErrorMessage": msg})
	}

	var status int
	var respBody []byte
	header := http.Header{}
	if len(forward) == 0 {
		status, respBody = http.StatusOK, mergeResponse(nil, failed)
		header.Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		if len(forward) < len(entries) {
			req["Records"], _ = json.Marshal(forward)
			body, _ = json.Marshal(req)
		}
		resp, err := p.forward(r, body)
		if err != nil {
			hangUp(w) // the target is down: the client sees a dead connection
			return
		}
		status, header, respBody = resp.status, resp.header, resp.body
		if status == http.StatusOK && len(forward) < len(entries) {
			merged := mergeResponse(resp.body, failed)
			if merged == nil {
				writeError(w, http.StatusInternalServerError, "InternalFailure")
				return
			}
			respBody = merged
		}
	}

	if d.Delay > 0 {
		t := time.NewTimer(d.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case d.ResetAfterWrite:
		hangUp(w)
		return
	case d.TimeoutAfterWrite:
		<-r.Context().Done()
		return
	}
	writeResponse(w, status, header, respBody)
}

// names reports whether a scripted fault names PutRecords request num.
func (r *Rules) names(num int64) bool {
	for _, l := range [][]int64{r.ResetRequests, r.ResetAfterForwardRequests, r.ErrorRequests, r.DelayRequests, r.DropRequests} {
		if slices.Contains(l, num) {
			return true
		}
	}
	return false
}

// entryError builds a per-entry error as Kinesis words it; the injector
// has already given every failed entry its code (throttled by default).
func entryError(code, stream, shard string) (string, string) {
	switch {
	case code == CodeThrottled && shard != "":
		return code, fmt.Sprintf("Rate exceeded for shard %s in stream %s under account 000000000000.", shard, stream)
	case code == CodeThrottled:
		return code, fmt.Sprintf("Rate exceeded for stream %s under account 000000000000.", stream)
	case code == CodeInternalFailure:
		return code, "Internal service failure."
	}
	return code, "Injected by faultproxy."
}

// mergeResponse rebuilds a PutRecords response for the full request:
// failed[i] != nil is an injected failure, the others take the forwarded
// entries' results in order. It returns nil if the target's response does
// not parse or does not match.
func mergeResponse(target []byte, failed []json.RawMessage) []byte {
	resp := map[string]json.RawMessage{}
	var results []json.RawMessage
	fwdFailed := 0
	if target != nil {
		if json.Unmarshal(target, &resp) != nil || json.Unmarshal(resp["Records"], &results) != nil {
			return nil
		}
		_ = json.Unmarshal(resp["FailedRecordCount"], &fwdFailed)
	}
	all := make([]json.RawMessage, len(failed))
	injected, j := 0, 0
	for i := range failed {
		if failed[i] != nil {
			all[i] = failed[i]
			injected++
			continue
		}
		if j >= len(results) {
			return nil
		}
		all[i] = results[j]
		j++
	}
	if j != len(results) {
		return nil
	}
	resp["Records"], _ = json.Marshal(all)
	resp["FailedRecordCount"], _ = json.Marshal(fwdFailed + injected)
	out, _ := json.Marshal(resp)
	return out
}

type forwarded struct {
	status int
	header http.Header
	body   []byte
}

// forward sends the request, with body, to the target and reads the
// whole response.
func (p *Proxy) forward(r *http.Request, body []byte) (*forwarded, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade", "Proxy-Connection":
			continue
		}
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			p.in.count(func(c *Counters) { c.Forwarded++ })
			h := resp.Header.Clone()
			h.Del("Content-Length")
			h.Del("Connection")
			return &forwarded{status: resp.StatusCode, header: h, body: b}, nil
		}
	}
	if !errors.Is(err, context.Canceled) {
		p.in.count(func(c *Counters) { c.ForwardFailures++ })
	}
	return nil, err
}

func (p *Proxy) passThrough(w http.ResponseWriter, r *http.Request, body []byte) {
	resp, err := p.forward(r, body)
	if err != nil {
		hangUp(w)
		return
	}
	writeResponse(w, resp.status, resp.header, resp.body)
}

func writeResponse(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeErrorMessage(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	writeResponse(w, status, h, body)
}

func writeError(w http.ResponseWriter, status int, code string) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if code == "" && status == http.StatusInternalServerError {
		code = CodeInternalFailure
	}
	var body []byte
	if code != "" {
		body, _ = json.Marshal(map[string]string{"__type": code, "message": "Injected by faultproxy."})
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Requestid", "faultproxy")
	writeResponse(w, status, h, body)
}
