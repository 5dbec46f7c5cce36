package producer

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// This file is the producer's retry policy as pure functions: what a
// PutRecords answer (per entry) or a failed call (whole request) means for
// each entry. attempt applies the verdicts; the error-code table is in
// errors.go. Both take no producer state, so they are unit-tested with
// built responses and errors.

// fate is the one name of a retry decision along the whole path: what an
// error code means (the table in errors.go), what the policy decides for
// an entry (verdict), and where each record stands (record.fate). A record
// that fails for good says why in its Error's Kind.
type fate uint8

const (
	fateNone       fate = iota // not decided: a record not answered yet
	fateAccepted               // stored by Kinesis
	fateRetry                  // back off and send again
	fateRetryAlone             // an aggregate refused as invalid: its records retried one by one, unaggregated
	fateSplit                  // the request was refused for something in it: halve it; a single entry fails (error table only)
	fateFail                   // fails for good, with verdict.kind (KindFatal from the error table)
	fateClosed                 // the producer was hard-stopped
)

// verdict is the decision for one entry.
type verdict struct {
	fate      fate
	kind      Kind // for fateFail
	code, msg string
	// For fateAccepted: where Kinesis stored the entry. mismatch says it was
	// not the predicted shard (the shard map is stale); an aggregate
	// predicted by shard is then sent again (fateRetry, CodeShardMismatch),
	// since KCL consumers drop the records of other shards it may hold.
	shard, seq string
	mismatch   bool
}

// policy is what of the producer's options the verdicts depend on.
type policy struct {
	failIfThrottled bool // Options.FailIfThrottled
	aggByShard      bool // Options.Aggregation == AggregateByShard
}

// failure decides the fate of an entry whose error's code the table gave
// f, for a per-entry error and a whole-request error alike (for a request,
// after it was halved down to one entry where f is fateSplit). agg says
// the entry is an aggregate.
func (o policy) failure(f fate, code, msg string, agg bool) verdict {
	v := verdict{code: code, msg: msg}
	switch {
	case f == fateClosed:
		v.fate, v.kind = fateClosed, KindClosed
	case f == fateFail:
		v.fate, v.kind = fateFail, KindFatal
	case f == fateSplit && agg:
		v.fate = fateRetryAlone
	case f == fateSplit && code == CodeRequestTooLarge:
		v.fate, v.kind = fateFail, KindOversize
	case f == fateSplit:
		v.fate, v.kind = fateFail, KindRejected
	case code == throttleCode && o.failIfThrottled:
		v.fate, v.kind = fateFail, KindThrottled
	default:
		v.fate = fateRetry
	}
	return v
}

// entryVerdict reads one entry of a PutRecords response. predicted is the
// shard the entry was sent for ("" when unknown), agg whether it is an
// aggregate.
func (o policy) entryVerdict(res *types.PutRecordsResultEntry, predicted string, agg bool) verdict {
	code := aws.ToString(res.ErrorCode)
	if code != "" {
		return o.failure(classifyCode(code), code, aws.ToString(res.ErrorMessage), agg)
	}
	v := verdict{fate: fateAccepted, shard: aws.ToString(res.ShardId), seq: aws.ToString(res.SequenceNumber)}
	if predicted != "" && v.shard != predicted {
		v.mismatch = true
		if agg && o.aggByShard {
			v.fate, v.code, v.msg = fateRetry, CodeShardMismatch, "stored on "+v.shard+", predicted "+predicted
		}
	}
	return v
}

// requestVerdict reads a failed PutRecords call of n entries. split says
// to halve the request and attempt each half (too large or invalid with
// more than one entry); otherwise the verdict applies to every entry.
// stopped says the producer's own context was cancelled.
func (o policy) requestVerdict(err error, stopped bool, n int, firstAgg bool) (v verdict, split bool) {
	f, code, msg := classifyErr(err, stopped)
	if f == fateSplit && n > 1 {
		return verdict{code: code, msg: msg}, true
	}
	return o.failure(f, code, msg, firstAgg), false
}
