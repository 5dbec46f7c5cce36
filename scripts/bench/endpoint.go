package main

import (
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"math/bits"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testcert"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// endpoint is the Kinesis side of the benchmark: one HTTPS server that either
// answers PutRecords itself and stores nothing (the do-nothing endpoint, so
// that the sink, not an emulator, is what is measured), or forwards every
// Kinesis call to kinesalite (which speaks plain HTTP only, while the KPL
// speaks HTTPS only). Either way it counts the user records each accepted
// PutRecords carried, deaggregating KPL aggregates, and timestamps their
// acceptance: the latency of a record is that time minus the publish time
// the benchmark wrote into its first 8 bytes.
//
// It also answers the few other calls the sinks make: ListShards,
// DescribeStreamSummary and DescribeStream (shard map and record size),
// STS GetCallerIdentity (the KPL asks for the account) and CloudWatch
// PutMetricData (accepted and ignored, should a sink send metrics).
type endpoint struct {
	ln       net.Listener
	srv      *http.Server
	upstream string // kinesalite base URL; "" for the do-nothing endpoint
	client   *http.Client
	shards   int

	seq atomic.Uint64
	cnt *counter

	unknownMu sync.Mutex
	unknown   map[string]bool
	calls     sync.Map // target -> *atomic.Int64, for the diagnostics
}

func startEndpoint(upstream string, shards int) (*endpoint, error) {
	cert, err := testcert.Loopback()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &endpoint{ln: ln, upstream: upstream, shards: shards, cnt: newCounter(), unknown: map[string]bool{}}
	if upstream != "" {
		e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64, IdleConnTimeout: time.Minute}}
	}
	e.srv = &http.Server{
		Handler:   e,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		// HTTP/1.1 only: the KPL speaks nothing else, and both sinks should
		// pay the same transport costs.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	go func() { _ = e.srv.ServeTLS(ln, "", "") }()
	return e, nil
}

func (e *endpoint) port() int { return e.ln.Addr().(*net.TCPAddr).Port }

func (e *endpoint) close() { _ = e.srv.Close() }

// callCounts lists how often each API was called, for error reports.
func (e *endpoint) callCounts() string {
	var parts []string
	e.calls.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (e *endpoint) countCall(name string) {
	v, _ := e.calls.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ceiling" {
		e.ceilingHandler(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op := target
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		op = target[i+1:]
	}
	if target == "" {
		// Query protocol (STS, CloudWatch): Action=... in the form body.
		if v, err := urlValue(body, "Action"); err == nil {
			op = v
		}
	}
	e.countCall(op)
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "cbor") {
		e.unknownOnce("CBOR request "+op, "the benchmark endpoint speaks the JSON protocol only")
		http.Error(w, "CBOR not supported by the benchmark endpoint", http.StatusBadRequest)
		return
	}
	switch op {
	case "GetCallerIdentity":
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:iam::000000000000:user/bench</Arn><UserId>AIDABENCH</UserId><Account>000000000000</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
		return
	case "PutMetricData":
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></PutMetricDataResponse>`)
		return
	}
	if !strings.HasPrefix(target, "Kinesis_") {
		e.unknownOnce(r.Method+" "+r.URL.Path+" "+op, "not a call the benchmark endpoint knows")
		http.Error(w, "unknown call", http.StatusBadRequest)
		return
	}
	if op == "PutRecords" {
		e.cnt.requestSeen()
	}
	if e.upstream != "" {
		e.forward(w, r, op, body)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch op {
	case "PutRecords":
		e.putRecords(w, body)
	case "ListShards", "DescribeStream":
		e.listShards(w, op, body)
	case "DescribeStreamSummary":
		e.describeSummary(w, body)
	default:
		e.unknownOnce(op, "Kinesis call not implemented by the do-nothing endpoint")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"%s not implemented by the benchmark endpoint"}`, op)
	}
}

func (e *endpoint) unknownOnce(what, why string) {
	e.unknownMu.Lock()
	defer e.unknownMu.Unlock()
	if !e.unknown[what] {
		e.unknown[what] = true
		log.Printf("endpoint: %s: %s", what, why)
	}
}

func urlValue(body []byte, key string) (string, error) {
	for _, kv := range bytes.Split(body, []byte("&")) {
		k, v, _ := bytes.Cut(kv, []byte("="))
		if string(k) == key {
			return string(v), nil
		}
	}
	return "", fmt.Errorf("no %s", key)
}

// streamName reads "StreamName" from a small request body.
func streamName(body []byte) string {
	var in struct{ StreamName, StreamARN string }
	_ = json.Unmarshal(body, &in)
	if in.StreamName == "" && in.StreamARN != "" {
		if i := strings.LastIndexByte(in.StreamARN, '/'); i >= 0 {
			return in.StreamARN[i+1:]
		}
	}
	if in.StreamName == "" {
		return "bench"
	}
	return in.StreamName
}

var hashSpace = new(big.Int).Lsh(big.NewInt(1), 128)

// shardRange is shard i's hash key range when the space is cut evenly, as
// Kinesis (and kinesalite) do for a new stream.
func (e *endpoint) shardRange(i int) (string, string) {
	step := new(big.Int).Div(hashSpace, big.NewInt(int64(e.shards)))
	lo := new(big.Int).Mul(step, big.NewInt(int64(i)))
	hi := new(big.Int).Sub(new(big.Int).Add(lo, step), big.NewInt(1))
	if i == e.shards-1 {
		hi = new(big.Int).Sub(hashSpace, big.NewInt(1))
	}
	return lo.String(), hi.String()
}

func (e *endpoint) listShards(w http.ResponseWriter, op string, body []byte) {
	var b bytes.Buffer
	name := streamName(body)
	if op == "DescribeStream" {
		fmt.Fprintf(&b, `{"StreamDescription":{"StreamName":%q,"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/%s","StreamStatus":"ACTIVE","HasMoreShards":false,"RetentionPeriodHours":24,"StreamCreationTimestamp":1.7e9,"EnhancedMonitoring":[{"ShardLevelMetrics":[]}],"EncryptionType":"NONE","Shards":[`, name, name)
	} else {
		b.WriteString(`{"Shards":[`)
	}
	for i := range e.shards {
		lo, hi := e.shardRange(i)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ShardId":"shardId-%012d","HashKeyRange":{"StartingHashKey":"%s","EndingHashKey":"%s"},"SequenceNumberRange":{"StartingSequenceNumber":"49000000000000000000000000000000000000000000000000000000"}}`, i, lo, hi)
	}
	b.WriteString(`]}`)
	if op == "DescribeStream" {
		b.WriteString(`}`)
	}
	_, _ = w.Write(b.Bytes())
}

func (e *endpoint) describeSummary(w http.ResponseWriter, body []byte) {
	name := streamName(body)
	fmt.Fprintf(w, `{"StreamDescriptionSummary":{"StreamName":%q,"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/%s","StreamStatus":"ACTIVE","StreamModeDetails":{"StreamMode":"PROVISIONED"},"RetentionPeriodHours":24,"StreamCreationTimestamp":1.7e9,"EnhancedMonitoring":[{"ShardLevelMetrics":[]}],"EncryptionType":"NONE","OpenShardCount":%d,"ConsumerCount":0,"MaxRecordSizeInKiB":1024}}`, name, name, e.shards)
}

// entry is one PutRecords request entry, fields still as they are in the
// JSON (Data base64-encoded).
type entry struct {
	data, pk, ehk []byte
}

// scanEntries walks the "Records" array of a PutRecords request without a
// general JSON decoder: the endpoint shares the machine's two cores with the
// sink it measures, so it must cost little. Values are taken raw: base64
// has no escapes, and the benchmark's partition keys are plain ASCII.
func scanEntries(body []byte, fn func(entry)) error {
	i := bytes.Index(body, []byte(`"Records"`))
	if i < 0 {
		return fmt.Errorf("no Records in request")
	}
	i = bytes.IndexByte(body[i:], '[') + i
	for {
		j := bytes.IndexAny(body[i:], "{]")
		if j < 0 || body[i+j] == ']' {
			return nil
		}
		i += j + 1
		var en entry
		for {
			// key
			k := bytes.IndexAny(body[i:], `"}`)
			if k < 0 {
				return fmt.Errorf("truncated record")
			}
			if body[i+k] == '}' {
				i += k + 1
				break
			}
			ks := i + k + 1
			ke := bytes.IndexByte(body[ks:], '"') + ks
			key := body[ks:ke]
			i = ke + 1
			// value: a string (all three fields are strings)
			v := bytes.IndexByte(body[i:], '"')
			if v < 0 {
				return fmt.Errorf("truncated record")
			}
			vs := i + v + 1
			ve := vs
			for ve < len(body) && body[ve] != '"' {
				if body[ve] == '\\' {
					ve++
				}
				ve++
			}
			val := body[vs:ve]
			i = ve + 1
			switch string(key) {
			case "Data":
				en.data = val
			case "PartitionKey":
				en.pk = val
			case "ExplicitHashKey":
				en.ehk = val
			}
		}
		fn(en)
	}
}

// shardOf predicts the shard of an entry from its explicit hash key, else
// the MD5 of its partition key, with the hash space cut evenly. The top 64
// bits decide (exact for a power-of-two shard count, the default 4), which
// keeps the endpoint cheap: it shares the CPUs with what it measures.
func (e *endpoint) shardOf(en entry) int {
	var hi uint64
	if len(en.ehk) > 0 {
		h, ok := new(big.Int).SetString(string(en.ehk), 10)
		if !ok {
			return 0
		}
		hi = new(big.Int).Rsh(h, 64).Uint64()
	} else {
		sum := md5.Sum(en.pk)
		hi = binary.BigEndian.Uint64(sum[:8])
	}
	idx, _ := bits.Mul64(hi, uint64(e.shards))
	return int(idx)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (e *endpoint) putRecords(w http.ResponseWriter, body []byte) {
	now := time.Now()
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	b.Reset()
	b.WriteString(`{"FailedRecordCount":0,"Records":[`)
	first := true
	var stamps []int64
	err := scanEntries(body, func(en entry) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(seqNumber(e.seq.Add(1), e.shardOf(en), b.AvailableBuffer()))
		stamps = userStamps(en.data, stamps)
	})
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"__type":"SerializationException","message":%q}`, err.Error())
		return
	}
	b.WriteString(`]}`)
	_, _ = w.Write(b.Bytes())
	e.cnt.accept(stamps, now)
}

// seqNumber appends one response entry: a 56-digit sequence number and the
// shard id, without fmt (this runs for every entry).
func seqNumber(n uint64, shard int, dst []byte) []byte {
	dst = append(dst, `{"SequenceNumber":"49`...)
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], n, 10)
	for range 54 - len(d) {
		dst = append(dst, '0')
	}
	dst = append(dst, d...)
	dst = append(dst, `","ShardId":"shardId-`...)
	d = strconv.AppendUint(digits[:0], uint64(shard), 10)
	for range 12 - len(d) {
		dst = append(dst, '0')
	}
	dst = append(dst, d...)
	return append(dst, `"}`...)
}

// userStamps appends the publish time of each user record in one Kinesis
// record's data (base64), deaggregating a KPL aggregate.
func userStamps(b64 []byte, out []int64) []int64 {
	var head [12]byte
	if len(b64) >= 16 {
		n, err := base64.StdEncoding.Decode(head[:], b64[:16])
		if err == nil && n == 12 && string(head[:len(kpl.Magic)]) != kpl.Magic {
			return append(out, int64(binary.BigEndian.Uint64(head[:8])))
		}
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(data, b64)
	if err != nil {
		return append(out, 0)
	}
	data = data[:n]
	if !bytes.HasPrefix(data, []byte(kpl.Magic)) {
		return append(out, stampOf(data))
	}
	// The project's own deaggregator (sink/kpl), which also checks the MD5
	// trailer: a malformed aggregate is reported, not counted.
	recs, err := kpl.Deaggregate(data)
	if err != nil {
		log.Printf("endpoint: bad KPL aggregate (%d bytes): %v", len(data), err)
		return append(out, 0)
	}
	for _, r := range recs {
		out = append(out, stampOf(r.Data))
	}
	return out
}

func stampOf(d []byte) int64 {
	if len(d) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(d[:8]))
}

// forward passes a Kinesis call to kinesalite and, for PutRecords, counts
// the entries it accepted.
func (e *endpoint) forward(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	req, err := http.NewRequest(r.Method, e.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	now := time.Now()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
	if op != "PutRecords" || resp.StatusCode != http.StatusOK {
		return
	}
	var out struct {
		FailedRecordCount int
		Records           []struct{ ErrorCode string }
	}
	failed := !bytes.Contains(rb, []byte(`"FailedRecordCount":0`))
	if failed {
		_ = json.Unmarshal(rb, &out)
	}
	var stamps []int64
	var kinRecords, kinBytes int
	idx := 0
	_ = scanEntries(body, func(en entry) {
		if !failed || (idx < len(out.Records) && out.Records[idx].ErrorCode == "") {
			stamps = userStamps(en.data, stamps)
			kinRecords++
			kinBytes += base64.StdEncoding.DecodedLen(len(en.data)) - bytes.Count(en.data[max(len(en.data)-2, 0):], []byte("=")) + len(en.pk)
		}
		idx++
	})
	e.cnt.acceptKinesis(kinRecords, kinBytes)
	e.cnt.accept(stamps, now)
}

// counter counts the user records of one benchmark phase and when they
// were accepted.
type counter struct {
	mu        sync.Mutex
	expect    int
	n         int
	first     time.Time
	last      time.Time
	latencies []time.Duration // only while recording
	record    bool
	zero      int // records without a readable publish time
	// kinRecords and kinBytes are the Kinesis records (an aggregate is one)
	// and their data + partition key bytes accepted, counted when
	// forwarding.
	kinRecords, kinBytes int
	done                 chan struct{}
	onFirst              func()
	fired                bool
}

func newCounter() *counter { return &counter{done: make(chan struct{})} }

// reset starts a phase expecting n records; onFirst runs (synchronously) at
// the first accepted record.
func (c *counter) reset(n int, record bool, onFirst func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expect, c.n, c.zero, c.kinRecords, c.kinBytes = n, 0, 0, 0, 0
	c.first, c.last = time.Time{}, time.Time{}
	c.latencies = c.latencies[:0]
	c.record = record
	c.done = make(chan struct{})
	c.onFirst = onFirst
	c.fired = false
}

// fireLocked runs onFirst once per phase: at the first PutRecords request
// (or the ceiling's first report), so that the CPU window starts when the
// sink starts sending, not when a slow endpoint first answers (kinesalite
// with 5 MiB requests answers after the sink has done much of its work).
func (c *counter) fireLocked() {
	if !c.fired {
		c.fired = true
		if c.onFirst != nil {
			c.onFirst()
		}
	}
}

func (c *counter) requestSeen() {
	c.mu.Lock()
	c.fireLocked()
	c.mu.Unlock()
}

func (c *counter) acceptKinesis(records, bytes int) {
	c.mu.Lock()
	c.kinRecords += records
	c.kinBytes += bytes
	c.mu.Unlock()
}

func (c *counter) accept(stamps []int64, now time.Time) {
	if len(stamps) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fireLocked()
	if c.first.IsZero() {
		c.first = now
	}
	c.last = now
	for _, s := range stamps {
		if s == 0 {
			c.zero++
		} else if c.record {
			c.latencies = append(c.latencies, now.Sub(time.Unix(0, s)))
		}
	}
	before := c.n
	c.n += len(stamps)
	if before < c.expect && c.n >= c.expect {
		close(c.done)
	}
}

type phaseCount struct {
	n                    int
	kinRecords, kinBytes int
	first, last          time.Time
	latencies            []time.Duration
	zero                 int
}

func (c *counter) snapshot() phaseCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	return phaseCount{n: c.n, kinRecords: c.kinRecords, kinBytes: c.kinBytes, first: c.first, last: c.last, latencies: append([]time.Duration(nil), c.latencies...), zero: c.zero}
}

func (c *counter) doneCh() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// ceilingHandler takes the consume-only child's reports: pairs of
// (publish time, receive time) in nanoseconds, big-endian.
func (e *endpoint) ceilingHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// Group by receive time is not needed: the child posts often, and the
	// latency uses each record's own receive time.
	e.cnt.mu.Lock()
	c := e.cnt
	for i := 0; i+16 <= len(body); i += 16 {
		pub := int64(binary.BigEndian.Uint64(body[i:]))
		recv := time.Unix(0, int64(binary.BigEndian.Uint64(body[i+8:])))
		c.fireLocked()
		if c.first.IsZero() || recv.Before(c.first) {
			c.first = recv
		}
		if recv.After(c.last) {
			c.last = recv
		}
		if c.record {
			c.latencies = append(c.latencies, recv.Sub(time.Unix(0, pub)))
		}
		c.n++
		if c.n == c.expect {
			close(c.done)
		}
	}
	e.cnt.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
