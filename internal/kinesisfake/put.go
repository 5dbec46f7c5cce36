package kinesisfake

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// putTally is what one PutRecords call did, for the model's counters.
type putTally struct {
	stored, throttled, faulted int
}

// put stores a validated request's entries, each on the open shard its
// hash routes it to, except those the test's fault fails (entryFaults,
// index-aligned, "" for none) and those their shard's limit refuses (lim
// nil: none). The answer is index-aligned with the request, as Kinesis's.
func (s *Stream) put(recs []types.PutRecordsRequestEntry, hashes []kpl.Hash, entryFaults []string, lim *ShardLimit, now time.Time) (*kinesis.PutRecordsOutput, putTally, *APIError) {
	var stored []Record
	onStored := s.model.cfg.OnStored
	defer func() {
		for _, r := range stored {
			onStored(s.name, r)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := !s.model.cfg.Discard || onStored != nil
	var t putTally
	if !s.writableLocked() {
		return nil, t, s.notFound()
	}
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(recs)), EncryptionType: types.EncryptionTypeNone}
	failed := int32(0)
	for i := range recs {
		e := &recs[i]
		sh := s.routeLocked(hashes[i])
		res := &out.Records[i]
		code := ""
		if i < len(entryFaults) {
			code = entryFaults[i]
		}
		size := len(e.Data) + len(*e.PartitionKey)
		switch {
		case code != "":
			t.faulted++
		case lim != nil && !sh.tokens.Take(*lim, now, size):
			code = CodeThrottled
			t.throttled++
		}
		if code != "" {
			failed++
			res.ErrorCode = aws.String(code)
			res.ErrorMessage = aws.String(s.entryMessage(code, sh.id))
			continue
		}
		s.seq++
		r := Record{ShardID: sh.id, SequenceNumber: seqString(s.seq), PartitionKey: *e.PartitionKey, ArrivalTime: now}
		if keep {
			// The caller may reuse its buffers (the producer pools them).
			r.Data = append([]byte(nil), e.Data...)
		}
		if e.ExplicitHashKey != nil {
			r.ExplicitHashKey = *e.ExplicitHashKey
		}
		if !s.model.cfg.Discard {
			sh.records = append(sh.records, r)
		}
		if onStored != nil {
			stored = append(stored, r)
		}
		res.ShardId = sh.idRef
		res.SequenceNumber = aws.String(r.SequenceNumber)
		t.stored++
	}
	out.FailedRecordCount = aws.Int32(failed)
	return out, t, nil
}

// entryMessage is the ErrorMessage Kinesis gives with a per-entry code.
func (s *Stream) entryMessage(code, shardID string) string {
	switch code {
	case CodeThrottled:
		return "Rate exceeded for shard " + shardID + " in stream " + s.name + " under account " + s.account + "."
	case CodeInternalFailure:
		return "Internal service failure."
	}
	return code + " (injected)"
}
