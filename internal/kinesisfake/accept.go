package kinesisfake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// AcceptAll is the cheapest Kinesis there is: it stores nothing, accepts
// every PutRecords entry on one shard, and answers DescribeStreamSummary
// for a one-shard stream of any name. With shardMap, ListShards lists that
// shard; without, ListShards is denied (AccessDeniedException, as for a
// role without kinesis:ListShards), so that a producer predicts no shard
// and its per-shard rate limit holds nothing back. In-process
// benchmarks count every allocation of the process, the server's too, so
// their endpoint must cost next to nothing: it does not parse a request,
// it counts its entries and answers from a cache. Anything that needs the
// records, limits or faults takes the Model.
func AcceptAll(shardMap bool) http.Handler {
	return &acceptAll{shardMap: shardMap, responses: map[int][]byte{}}
}

type acceptAll struct {
	shardMap  bool
	mu        sync.Mutex
	responses map[int][]byte // PutRecords answers by entry count
}

var entryMarker = []byte(`"PartitionKey"`)

func (a *acceptAll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "Kinesis_20131202.DescribeStreamSummary":
		_, _ = io.WriteString(w, `{"StreamDescriptionSummary":{"StreamName":"bench","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/bench",`+
			`"StreamStatus":"ACTIVE","OpenShardCount":1,"RetentionPeriodHours":24,"StreamCreationTimestamp":1.7e9,"EnhancedMonitoring":[],"EncryptionType":"NONE"}}`)
		return
	case "Kinesis_20131202.ListShards":
		if !a.shardMap {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"kinesis:ListShards is not allowed"}`)
			return
		}
		_, _ = io.WriteString(w, `{"Shards":[{"ShardId":"shardId-000000000000","HashKeyRange":{"StartingHashKey":"0",`+
			`"EndingHashKey":"340282366920938463463374607431768211455"},"SequenceNumberRange":{"StartingSequenceNumber":"1"}}]}`)
		return
	}
	n := bytes.Count(body, entryMarker)
	a.mu.Lock()
	resp, ok := a.responses[n]
	if !ok {
		var b bytes.Buffer
		b.WriteString(`{"FailedRecordCount":0,"Records":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"SequenceNumber":"4959%016d","ShardId":"shardId-000000000000"}`, i)
		}
		b.WriteString(`]}`)
		resp = b.Bytes()
		a.responses[n] = resp
	}
	a.mu.Unlock()
	_, _ = w.Write(resp)
}
