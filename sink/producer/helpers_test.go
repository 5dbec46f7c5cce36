package producer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// kinesisEndpoint returns KINESIS_ENDPOINT (a kinesalite); the test skips
// without it, unless KS_REQUIRE_SERVICES=1 makes a missing service a failure.
func kinesisEndpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("KINESIS_ENDPOINT")
	if ep == "" {
		if os.Getenv("KS_REQUIRE_SERVICES") == "1" {
			t.Fatal("KINESIS_ENDPOINT is not set and KS_REQUIRE_SERVICES=1; run scripts/local-env.sh")
		}
		t.Skip("KINESIS_ENDPOINT is not set (needs kinesalite)")
	}
	return ep
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newClient is a Kinesis client as the sink builds it: static credentials
// (kinesalite checks none), a connection pool sized for the producer.
func newClient(endpoint string, opts producer.Options) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region: envOr("AWS_REGION", "us-east-1"),
		Credentials: credentials.NewStaticCredentialsProvider(
			envOr("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), envOr("AWS_SECRET_ACCESS_KEY", "secret"), ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   producer.NewHTTPClient(opts),
	})
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// createStream makes a stream with a unique name and deletes it after the test.
func createStream(t testing.TB, c kinesisAPI, shards int32) string {
	t.Helper()
	name := "producer-test-" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 20*time.Second); err != nil {
		t.Fatalf("wait for stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	return name
}

type shardInfo struct {
	id         string
	start, end *big.Int
}

func listShards(t testing.TB, c kinesisAPI, stream string) []shardInfo {
	t.Helper()
	out, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("list shards: %v", err)
	}
	var shards []shardInfo
	for _, s := range out.Shards {
		start, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		end, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		shards = append(shards, shardInfo{aws.ToString(s.ShardId), start, end})
	}
	return shards
}

// readAll reads every record of every shard, in shard order.
func readAll(t testing.TB, c kinesisAPI, stream string) map[string][]types.Record {
	t.Helper()
	ctx := context.Background()
	all := map[string][]types.Record{}
	for _, s := range listShards(t, c, stream) {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: aws.String(s.id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("shard iterator %s: %v", s.id, err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatalf("get records %s: %v", s.id, err)
			}
			all[s.id] = append(all[s.id], out.Records...)
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return all
}

// payload builds a record's data: a parsable header naming the record
// (id, key, per-key index) and filler so that sizes vary.
func payload(id int, key string, idx int, filler int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "id=%d;key=%s;idx=%d;", id, key, idx)
	for i := 0; b.Len() < filler; i++ {
		b.WriteByte(byte('a' + (id+i)%26))
	}
	return b.Bytes()
}

type parsed struct {
	id  int
	key string
	idx int
}

func parsePayload(t testing.TB, data []byte) parsed {
	t.Helper()
	var p parsed
	fields := bytes.SplitN(data, []byte(";"), 4)
	if len(fields) < 3 {
		t.Fatalf("unexpected record data %.60q", data)
	}
	var err error
	if p.id, err = strconv.Atoi(string(bytes.TrimPrefix(fields[0], []byte("id=")))); err != nil {
		t.Fatalf("record data %.60q: %v", data, err)
	}
	p.key = string(bytes.TrimPrefix(fields[1], []byte("key=")))
	p.idx, _ = strconv.Atoi(string(bytes.TrimPrefix(fields[2], []byte("idx="))))
	return p
}

// collector gathers callback results by record id (the entry's Tag).
type collector struct {
	mu      sync.Mutex
	results map[int]producer.Result
	order   map[string][]int // per partition key: ids in callback order
	dupes   int
	done    chan struct{}
	want    int
}

func newCollector(want int) *collector {
	return &collector{results: map[int]producer.Result{}, order: map[string][]int{}, done: make(chan struct{}), want: want}
}

func (c *collector) callback(r producer.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := r.Tag.(int)
	if _, ok := c.results[id]; ok {
		c.dupes++
		return
	}
	c.results[id] = r
	c.order[r.PartitionKey] = append(c.order[r.PartitionKey], id)
	if len(c.results) == c.want {
		close(c.done)
	}
}

func (c *collector) wait(t testing.TB, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-c.done:
	default:
		select {
		case <-c.done:
		case <-timer.C:
			c.mu.Lock()
			n := len(c.results)
			c.mu.Unlock()
			t.Fatalf("only %d of %d callbacks within %s", n, c.want, d)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dupes > 0 {
		t.Fatalf("%d callbacks were called more than once", c.dupes)
	}
}

func (c *collector) get(id int) (producer.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[id]
	return r, ok
}

// sent is what a test put, by id.
type sent struct {
	key, ehk string
	data     []byte
}

// checkArrived reads the stream back and checks that every sent record is
// there with its bytes, on the shard its key (or EHK) routes to, and that
// nothing else is. It returns the number of duplicates and the ids in
// stored order per shard.
func checkArrived(t testing.TB, c kinesisAPI, stream string, want map[int]sent) (dupes int, perShard map[string][]parsed) {
	t.Helper()
	shards := listShards(t, c, stream)
	shardOf := func(key, ehk string) string {
		h, err := faultproxy.HashKey(key, ehk)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shards {
			if h.Cmp(s.start) >= 0 && h.Cmp(s.end) <= 0 {
				return s.id
			}
		}
		t.Fatalf("no shard covers %s", h)
		return ""
	}
	got := map[int]int{}
	perShard = map[string][]parsed{}
	for shard, recs := range readAll(t, c, stream) {
		for _, r := range recs {
			p := parsePayload(t, r.Data)
			w, ok := want[p.id]
			if !ok {
				t.Errorf("record id %d read back but never put", p.id)
				continue
			}
			if !bytes.Equal(r.Data, w.data) {
				t.Errorf("record %d: data differs (%d bytes read, %d put)", p.id, len(r.Data), len(w.data))
			}
			if aws.ToString(r.PartitionKey) != w.key {
				t.Errorf("record %d: partition key %q, want %q", p.id, aws.ToString(r.PartitionKey), w.key)
			}
			if exp := shardOf(w.key, w.ehk); exp != shard {
				t.Errorf("record %d (key %q, ehk %q) on %s, routing says %s", p.id, w.key, w.ehk, shard, exp)
			}
			got[p.id]++
			perShard[shard] = append(perShard[shard], p)
		}
	}
	var missing []int
	for id := range want {
		switch n := got[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			dupes += n - 1
		}
	}
	if len(missing) > 0 {
		sort.Ints(missing)
		t.Errorf("%d of %d records missing, e.g. %v", len(missing), len(want), missing[:min(10, len(missing))])
	}
	return dupes, perShard
}

func closeProducer(t testing.TB, p *producer.Producer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}

// requestLog collects the RequestInfo of every PutRecords call; its
// onRequest is a Hooks.OnRequest.
type requestLog struct {
	mu   sync.Mutex
	reqs []producer.RequestInfo
}

func (l *requestLog) onRequest(ri producer.RequestInfo) {
	l.mu.Lock()
	l.reqs = append(l.reqs, ri)
	l.mu.Unlock()
}

// all returns the calls so far, in the order they completed.
func (l *requestLog) all() []producer.RequestInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}
