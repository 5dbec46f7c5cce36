package producer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// Records with random keys, some with explicit hash keys, arrive byte for
// byte on the shard their routing names, each once, and each callback
// reports the shard and sequence number Kinesis assigned.
func TestPutDeliversAndRoutes(t *testing.T) { onModelAndKinesalite(t, testPutDeliversAndRoutes) }

func testPutDeliversAndRoutes(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Linger: 20 * time.Millisecond}
	stream := createStream(t, c, 4)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.Prepare(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if info.OpenShards != 4 || info.MaxRecordSize != producer.DefaultMaxRecordSize {
		t.Fatalf("prepare: %+v", info)
	}

	const n = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	col := newCollector(n)
	want := map[int]sent{}
	maxHash := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	for id := range n {
		key := fmt.Sprintf("k-%d-%s", rng.IntN(500), strings.Repeat("é", rng.IntN(3))) // multi-byte keys too
		ehk := ""
		switch id % 10 {
		case 0:
			hi, lo := new(big.Int).SetUint64(rng.Uint64()), new(big.Int).SetUint64(rng.Uint64())
			ehk = hi.Lsh(hi, 64).Or(hi, lo).String()
		case 1:
			ehk = maxHash.String() // the last hash key belongs to the last shard
		case 2:
			ehk = "0"
		}
		data := payload(id, key, 0, 50+rng.IntN(2000))
		want[id] = sent{key, ehk, data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: key, ExplicitHashKey: ehk, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second) // Flush returned: every callback has run

	dupes, perShard := checkArrived(t, c, stream, want)
	if dupes != 0 {
		t.Errorf("%d duplicates without any fault", dupes)
	}
	seqOf := map[int]string{}
	for shard, recs := range readAll(t, c, stream) {
		for _, r := range recs {
			seqOf[parsePayload(t, r.Data).id] = shard + "/" + *r.SequenceNumber
		}
	}
	for id := range n {
		res, _ := col.get(id)
		if res.Err != nil {
			t.Fatalf("record %d: %v", id, res.Err)
		}
		if got := res.ShardID + "/" + res.SequenceNumber; got != seqOf[id] {
			t.Fatalf("record %d: callback says %s, stream has it at %s", id, got, seqOf[id])
		}
	}
	if len(perShard) != 4 {
		t.Errorf("records landed on %d shards, want all 4", len(perShard))
	}
	st := p.Stats()
	if st.Delivered != n || st.Failed != 0 || st.BufferedRecords != 0 || st.BufferedBytes != 0 {
		t.Errorf("stats after flush: %+v", st)
	}
	closeProducer(t, p)
}

// Requests never pass the count and byte limits, counting partition keys;
// a batch of near-maximum records is cut into several requests.
func TestRequestLimits(t *testing.T) { onModel(t, testRequestLimits) }

func testRequestLimits(t *testing.T, c kinesisAPI) {
	var log requestLog
	// With an endless Linger, only the limits (and the final Flush) cut
	// requests, so the cuts do not depend on timing.
	opts := producer.Options{Linger: time.Hour, Hooks: producer.Hooks{OnRequest: log.onRequest}}
	stream := createStream(t, c, 2)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(1203 + 12)
	want := map[int]sent{}
	put := func(id int, key string, data []byte) {
		t.Helper()
		want[id] = sent{key: key, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: key, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	// 1203 small records: at least three requests by count.
	for id := range 1203 {
		put(id, fmt.Sprintf("small-%d", id), payload(id, "small", id, 40))
	}
	// 12 records of exactly the maximum size (data + 256-character key):
	// the key bytes must be counted or a request would pass 5 MiB.
	key := strings.Repeat("K", 256)
	for id := 10000; id < 10012; id++ {
		put(id, key, payload(id, "big", id, producer.MiB-len(key)))
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	for id := range want {
		if r, _ := col.get(id); r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
	reqs := log.all()
	bigRequests, full := 0, 0
	for _, r := range reqs {
		if r.Records > 500 || r.Bytes > 5*producer.MiB || r.ErrorCode != "" || r.Failed != 0 {
			t.Errorf("request %+v passes the limits or failed", r)
		}
		if r.Bytes >= producer.MiB {
			bigRequests++
		}
		if r.Records == 500 {
			full++
		}
	}
	t.Logf("requests: %+v", reqs)
	if bigRequests < 3 { // 12 MiB of records, at most 5 per request
		t.Errorf("%d requests carried the 12 maximum-size records, want at least 3", bigRequests)
	}
	if full < 2 {
		t.Errorf("%d requests of 500 records, want 2 (1203 small records were queued)", full)
	}
	if dupes, _ := checkArrived(t, c, stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
	closeProducer(t, p)
}

// With MaxBytesPerRequest at the service's 10 MiB, a request of ten ~1 MiB
// records is a body over kinesalite's 7 MiB limit: it answers 413 and the
// producer splits the request until the halves go through.
func TestRequestTooLargeIsSplit(t *testing.T) {
	ep := kinesisEndpoint(t)
	var tooLarge atomic.Int32
	opts := producer.Options{MaxBytesPerRequest: 10 * producer.MiB, Linger: time.Second, Hooks: producer.Hooks{OnRequest: func(ri producer.RequestInfo) {
		if ri.ErrorCode == producer.CodeRequestTooLarge {
			tooLarge.Add(1)
		}
	}}}
	c := newClient(ep, opts)
	stream := createStream(t, c, 1)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(10)
	want := map[int]sent{}
	for id := range 10 {
		data := payload(id, "k", id, producer.MiB-100)
		want[id] = sent{key: "k", data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: "k", Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	for id := range 10 {
		if r, _ := col.get(id); r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
	if tooLarge.Load() == 0 {
		t.Fatal("no request was answered 413; the test did not exercise splitting")
	}
	if dupes, _ := checkArrived(t, c, stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
	closeProducer(t, p)
}

// A record over the maximum size fails at once with KindOversize, before
// Put returns; invalid keys fail with KindInvalid; the others arrive.
func TestOversizeAndInvalidRejectedAtOnce(t *testing.T) {
	onModel(t, testOversizeAndInvalidRejectedAtOnce)
}

func testOversizeAndInvalidRejectedAtOnce(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Linger: time.Hour} // nothing is sent before Flush
	stream := createStream(t, c, 1)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(20 + 7 + 1) // good ones, bad ones, the 256-character key
	want := map[int]sent{}
	bad := map[int]producer.Kind{}
	put := func(id int, e producer.Entry) {
		t.Helper()
		e.Tag, e.Callback = id, col.callback
		if e.Stream == "" {
			e.Stream = stream
		}
		if err := p.Put(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	for id := range 20 {
		data := payload(id, "ok", id, 100)
		want[id] = sent{key: "ok", data: data}
		put(id, producer.Entry{PartitionKey: "ok", Data: data})
	}
	key := "kk"
	put(100, producer.Entry{PartitionKey: key, Data: make([]byte, producer.MiB-len(key)+1)})
	bad[100] = producer.KindOversize
	put(101, producer.Entry{PartitionKey: strings.Repeat("ü", 257)})
	bad[101] = producer.KindInvalid
	put(102, producer.Entry{PartitionKey: ""})
	bad[102] = producer.KindInvalid
	put(103, producer.Entry{PartitionKey: "x", ExplicitHashKey: "340282366920938463463374607431768211456"}) // 2^128
	bad[103] = producer.KindInvalid
	put(104, producer.Entry{PartitionKey: "x", ExplicitHashKey: "007"})
	bad[104] = producer.KindInvalid
	put(105, producer.Entry{PartitionKey: "x", Stream: "bad/name"})
	bad[105] = producer.KindInvalid
	put(106, producer.Entry{PartitionKey: "\xff"})
	bad[106] = producer.KindInvalid
	// 256 two-byte characters is a valid key: characters, not bytes, count.
	k256 := strings.Repeat("ü", 256)
	data := payload(200, "u", 0, 10)
	want[200] = sent{key: k256, data: data}
	put(200, producer.Entry{PartitionKey: k256, Data: data})

	// Before any flush, the bad ones are already resolved and nothing else.
	for id, kind := range bad {
		r, ok := col.get(id)
		if !ok {
			t.Fatalf("record %d: no callback before Put returned", id)
		}
		var pe *producer.Error
		if !errors.As(r.Err, &pe) || pe.Kind != kind {
			t.Fatalf("record %d: got %v, want kind %s", id, r.Err, kind)
		}
		t.Logf("record %d: %v", id, r.Err)
	}
	if r, ok := col.get(0); ok {
		t.Fatalf("record 0 resolved before flush: %+v", r)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	for id := range want {
		if r, _ := col.get(id); r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
	checkArrived(t, c, stream, want)
	closeProducer(t, p)
}

// When the producer is told a larger record size than the stream accepts,
// the service rejects the whole request; splitting isolates the one record
// (KindRejected) and the rest of its batch arrives.
func TestServiceRejectionIsolatesTheRecord(t *testing.T) {
	onModelAndKinesalite(t, testServiceRejectionIsolatesTheRecord)
}

func testServiceRejectionIsolatesTheRecord(t *testing.T, c kinesisAPI) {
	var requests atomic.Int32
	opts := producer.Options{MaxRecordSize: 2 * producer.MiB, Linger: time.Hour,
		Hooks: producer.Hooks{OnRequest: func(producer.RequestInfo) { requests.Add(1) }}}
	stream := createStream(t, c, 2)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(33)
	want := map[int]sent{}
	for id := range 33 {
		key := fmt.Sprintf("k%d", id)
		data := payload(id, key, id, 200)
		if id == 17 {
			data = payload(id, key, id, producer.MiB+producer.MiB/2) // kinesalite: data over 1 MiB
		} else {
			want[id] = sent{key: key, data: data}
		}
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: key, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	for id := range 33 {
		r, _ := col.get(id)
		if id == 17 {
			if !errors.Is(r.Err, producer.ErrRejected) {
				t.Fatalf("oversized record: got %v, want KindRejected", r.Err)
			}
			t.Logf("rejected after %d attempts, %d requests in all: %v", r.Attempts, requests.Load(), r.Err)
			continue
		}
		if r.Err != nil {
			t.Fatalf("record %d: %v", id, r.Err)
		}
	}
	// 33 records, one bad: the halving sends about 2*log2(33) requests, not 33.
	if n := requests.Load(); n < 3 || n > 14 {
		t.Errorf("%d requests to isolate one record", n)
	}
	if dupes, _ := checkArrived(t, c, stream, want); dupes != 0 {
		t.Errorf("%d duplicates", dupes)
	}
	closeProducer(t, p)
}

// A stream that does not exist fails every record with KindFatal and the
// service's code; Prepare reports it up front.
func TestMissingStreamIsFatal(t *testing.T) { onModelAndKinesalite(t, testMissingStreamIsFatal) }

func testMissingStreamIsFatal(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Linger: 10 * time.Millisecond}
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	stream := "producer-test-missing-" + randomSuffix()
	if _, err := p.Prepare(context.Background(), stream); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("prepare of a missing stream: %v", err)
	}
	col := newCollector(5)
	for id := range 5 {
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: "k", Data: []byte("x"), Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	col.wait(t, 10*time.Second)
	for id := range 5 {
		r, _ := col.get(id)
		var pe *producer.Error
		if !errors.As(r.Err, &pe) || pe.Kind != producer.KindFatal || pe.Code != "ResourceNotFoundException" || pe.Attempts != 1 {
			t.Fatalf("record %d: %#v", id, r.Err)
		}
	}
	r0, _ := col.get(0)
	t.Logf("error: %v", r0.Err)
	closeProducer(t, p)
}

// Flush sends at once despite a long Linger and returns only once every
// earlier record's callback has run; Put after Close fails with ErrClosed.
func TestFlushAndCloseSemantics(t *testing.T) { onModel(t, testFlushAndCloseSemantics) }

func testFlushAndCloseSemantics(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Linger: time.Hour}
	stream := createStream(t, c, 1)
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	var resolved atomic.Int32
	cb := func(r producer.Result) {
		if r.Err != nil {
			t.Errorf("record %v: %v", r.Tag, r.Err)
		}
		resolved.Add(1)
	}
	for id := range 7 {
		if err := p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: "k", Data: []byte("x"), Tag: id, Callback: cb}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := resolved.Load(); n != 7 {
		t.Fatalf("flush returned with %d of 7 callbacks done", n)
	}
	if err := p.Flush(ctx); err != nil { // nothing buffered
		t.Fatal(err)
	}
	closeProducer(t, p)
	err = p.Put(context.Background(), producer.Entry{Stream: stream, PartitionKey: "k", Data: []byte("x"), Callback: cb})
	if !errors.Is(err, producer.ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	c := kinesis.New(kinesis.Options{Region: "us-east-1"})
	for _, tc := range []struct {
		opts producer.Options
		want string
	}{
		{producer.Options{MaxRecordsPerRequest: 501}, "MaxRecordsPerRequest=501: allowed 1..500"},
		{producer.Options{MaxBytesPerRequest: 11 * producer.MiB}, "MaxBytesPerRequest=11534336"},
		{producer.Options{RetryInitialDelay: time.Second, RetryMaxDelay: time.Millisecond}, "RetryMaxDelay=1ms"},
		{producer.Options{MaxRecordSize: 100}, "MaxRecordSize=100"},
		{producer.Options{MaxInFlight: -1}, "MaxInFlight=-1"},
	} {
		_, err := producer.New(c, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
	p, err := producer.New(c, producer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Put(context.Background(), producer.Entry{Stream: "s", PartitionKey: "k"}); err == nil {
		t.Error("Put without a callback was accepted")
	}
	closeProducer(t, p)
}

// Each record goes to the stream its entry names; streams are batched
// separately by one producer.
func TestRecordsRouteToTheirStream(t *testing.T) { onModel(t, testRecordsRouteToTheirStream) }

func testRecordsRouteToTheirStream(t *testing.T, c kinesisAPI) {
	opts := producer.Options{Linger: 5 * time.Millisecond}
	streams := []string{createStream(t, c, 1), createStream(t, c, 2)}
	p, err := producer.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(300)
	want := []map[int]sent{{}, {}}
	for id := range 300 {
		key := fmt.Sprintf("k%d", id)
		data := payload(id, key, 0, 30)
		want[id%2][id] = sent{key: key, data: data}
		if err := p.Put(context.Background(), producer.Entry{Stream: streams[id%2], PartitionKey: key, Data: data, Tag: id, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.wait(t, time.Second)
	for i, s := range streams {
		if dupes, _ := checkArrived(t, c, s, want[i]); dupes != 0 {
			t.Errorf("%s: %d duplicates", s, dupes)
		}
	}
	closeProducer(t, p)
}

// requestKeeper serves a handler in process and keeps every request, whose
// body the SDK closes once the answer is in.
type requestKeeper struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []*http.Request
}

func (k *requestKeeper) Do(req *http.Request) (*http.Response, error) {
	k.mu.Lock()
	k.reqs = append(k.reqs, req)
	k.mu.Unlock()
	rec := httptest.NewRecorder()
	k.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// Whatever client it is given, the producer sends PutRecords with a body
// net/http can still read to its end after the SDK closed it: with the
// SDK's own body that last read fails, net/http closes the connection
// under the answer, and records Kinesis stored are sent again
// (internal/sdkbody).
func TestPutRecordsBodyReadableAfterClose(t *testing.T) {
	keep := &requestKeeper{h: kinesisfake.AcceptAll(false)}
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), HTTPClient: keep,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}})
	col := newCollector(20)
	p, err := producer.New(c, producer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := p.Put(context.Background(), producer.Entry{Stream: "s", PartitionKey: fmt.Sprint(i), Data: []byte("x"), Tag: i, Callback: col.callback}); err != nil {
			t.Fatal(err)
		}
	}
	closeProducer(t, p)
	col.wait(t, 10*time.Second)
	puts := 0
	for _, req := range keep.reqs {
		if req.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" {
			continue
		}
		puts++
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			t.Errorf("PutRecords body read after the SDK closed it: %v, want its end", err)
		}
	}
	if puts == 0 {
		t.Fatal("no PutRecords sent")
	}
}
