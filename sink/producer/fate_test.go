package producer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The retry policy, table-tested on built responses and errors: what each
// per-entry result and each failed call means for an entry.

func entryResult(code, msg string) *types.PutRecordsResultEntry {
	if code == "" {
		return &types.PutRecordsResultEntry{ShardId: aws.String("shardId-000000000001"), SequenceNumber: aws.String("4960")}
	}
	return &types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String(msg)}
}

func TestEntryVerdict(t *testing.T) {
	const throttleMsg = "Rate exceeded for shard shardId-000000000001 in stream s under account 123456789012."
	cases := []struct {
		name      string
		pol       policy
		res       *types.PutRecordsResultEntry
		predicted string
		agg       bool
		want      verdict
	}{
		{"accepted", policy{}, entryResult("", ""), "", false,
			verdict{fate: fateAccepted, shard: "shardId-000000000001", seq: "4960"}},
		{"accepted on the predicted shard", policy{aggByShard: true}, entryResult("", ""), "shardId-000000000001", true,
			verdict{fate: fateAccepted, shard: "shardId-000000000001", seq: "4960"}},
		{"plain record on another shard: stored, map stale", policy{aggByShard: true}, entryResult("", ""), "shardId-000000000002", false,
			verdict{fate: fateAccepted, shard: "shardId-000000000001", seq: "4960", mismatch: true}},
		{"aggregate on another shard: sent again", policy{aggByShard: true}, entryResult("", ""), "shardId-000000000002", true,
			verdict{fate: fateRetry, code: CodeShardMismatch, msg: "stored on shardId-000000000001, predicted shardId-000000000002",
				shard: "shardId-000000000001", seq: "4960", mismatch: true}},
		{"key-aggregate on another shard: stored", policy{}, entryResult("", ""), "shardId-000000000002", true,
			verdict{fate: fateAccepted, shard: "shardId-000000000001", seq: "4960", mismatch: true}},
		{"throttled: retried", policy{}, entryResult(throttleCode, throttleMsg), "", false,
			verdict{fate: fateRetry, code: throttleCode, msg: throttleMsg}},
		{"throttled with failIfThrottled", policy{failIfThrottled: true}, entryResult(throttleCode, throttleMsg), "", false,
			verdict{fate: fateFail, kind: KindThrottled, code: throttleCode, msg: throttleMsg}},
		{"internal failure: retried", policy{failIfThrottled: true}, entryResult("InternalFailure", "x"), "", false,
			verdict{fate: fateRetry, code: "InternalFailure", msg: "x"}},
		{"unknown code: retried", policy{}, entryResult("SomethingNew", "x"), "", false,
			verdict{fate: fateRetry, code: "SomethingNew", msg: "x"}},
		{"KMS access denied: fatal", policy{}, entryResult("KMSAccessDeniedException", "no"), "", false,
			verdict{fate: fateFail, kind: KindFatal, code: "KMSAccessDeniedException", msg: "no"}},
		{"invalid record: rejected", policy{}, entryResult("InvalidArgumentException", "bad"), "", false,
			verdict{fate: fateFail, kind: KindRejected, code: "InvalidArgumentException", msg: "bad"}},
		{"invalid aggregate: records retried alone", policy{}, entryResult("ValidationException", "bad"), "", true,
			verdict{fate: fateRetryAlone, code: "ValidationException", msg: "bad"}},
	}
	for _, c := range cases {
		if got := c.pol.entryVerdict(c.res, c.predicted, c.agg); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func codeErr(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

func statusErr(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func TestRequestVerdict(t *testing.T) {
	cases := []struct {
		name     string
		pol      policy
		err      error
		stopped  bool
		n        int
		agg      bool
		want     verdict
		wantSplt bool
	}{
		{"throttled request: retried", policy{}, codeErr(throttleCode, "slow down"), false, 3, false,
			verdict{fate: fateRetry, code: throttleCode, msg: "slow down"}, false},
		{"throttled request with failIfThrottled", policy{failIfThrottled: true}, codeErr(throttleCode, "slow down"), false, 3, false,
			verdict{fate: fateFail, kind: KindThrottled, code: throttleCode, msg: "slow down"}, false},
		{"stream missing: fatal", policy{}, codeErr("ResourceNotFoundException", "gone"), false, 3, false,
			verdict{fate: fateFail, kind: KindFatal, code: "ResourceNotFoundException", msg: "gone"}, false},
		{"invalid request of several: split", policy{}, codeErr("ValidationException", "bad"), false, 3, false,
			verdict{code: "ValidationException", msg: "bad"}, true},
		{"invalid request of one: rejected", policy{}, codeErr("ValidationException", "bad"), false, 1, false,
			verdict{fate: fateFail, kind: KindRejected, code: "ValidationException", msg: "bad"}, false},
		{"invalid aggregate alone: its records retried alone", policy{}, codeErr("ValidationException", "bad"), false, 1, true,
			verdict{fate: fateRetryAlone, code: "ValidationException", msg: "bad"}, false},
		{"bare 413 of one: oversize", policy{}, statusErr(413, errors.New("too large")), false, 1, false,
			verdict{fate: fateFail, kind: KindOversize, code: CodeRequestTooLarge, msg: statusErr(413, errors.New("too large")).Error()}, false},
		{"413 of several: split", policy{}, statusErr(413, codeErr("UnknownError", "")), false, 2, false,
			verdict{code: CodeRequestTooLarge}, true},
		{"timeout: retried", policy{}, fmt.Errorf("put: %w", context.DeadlineExceeded), false, 2, false,
			verdict{fate: fateRetry, code: CodeRequestTimeout, msg: "no response within RequestTimeout"}, false},
		{"connection reset: retried", policy{}, io.ErrUnexpectedEOF, false, 2, false,
			verdict{fate: fateRetry, code: CodeTransport, msg: io.ErrUnexpectedEOF.Error()}, false},
		{"untrusted certificate: fatal", policy{}, fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), false, 2, false,
			verdict{fate: fateFail, kind: KindFatal, code: CodeCertificate, msg: fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}).Error()}, false},
		{"producer stopped: closed", policy{}, context.Canceled, true, 2, false,
			verdict{fate: fateClosed, kind: KindClosed, msg: context.Canceled.Error()}, false},
	}
	for _, c := range cases {
		got, split := c.pol.requestVerdict(c.err, c.stopped, c.n, c.agg)
		if got != c.want || split != c.wantSplt {
			t.Errorf("%s:\n got %+v split %v\nwant %+v split %v", c.name, got, split, c.want, c.wantSplt)
		}
	}
}
