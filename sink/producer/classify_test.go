package producer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// apiErr builds an error shaped like the SDK's for a service error: an
// OperationError wrapping an awshttp.ResponseError wrapping the API error.
func apiErr(status int, code string) error {
	var inner error = &smithy.GenericAPIError{Code: code, Message: "msg for " + code}
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: "PutRecords", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: inner},
	}}
}

// The end-to-end tests cover what kinesalite and the fault proxy can
// produce; this table covers the codes only real Kinesis returns.
func TestClassifyErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		fate fate
		code string
	}{
		{apiErr(400, "ProvisionedThroughputExceededException"), fateRetry, "ProvisionedThroughputExceededException"},
		{apiErr(400, "KMSThrottlingException"), fateRetry, "KMSThrottlingException"},
		{apiErr(500, "InternalFailure"), fateRetry, "InternalFailure"},
		{apiErr(503, "UnknownError"), fateRetry, "UnknownError"},
		{apiErr(400, "SomethingNew"), fateRetry, "SomethingNew"},
		{apiErr(413, "UnknownError"), fateSplit, CodeRequestTooLarge},
		{apiErr(400, "InvalidArgumentException"), fateSplit, "InvalidArgumentException"},
		{apiErr(400, "ValidationException"), fateSplit, "ValidationException"},
		{apiErr(400, "ResourceNotFoundException"), fateFail, "ResourceNotFoundException"},
		{apiErr(400, "AccessDeniedException"), fateFail, "AccessDeniedException"},
		{apiErr(400, "KMSDisabledException"), fateFail, "KMSDisabledException"},
		{apiErr(400, "KMSInvalidStateException"), fateFail, "KMSInvalidStateException"},
		{apiErr(400, "KMSNotFoundException"), fateFail, "KMSNotFoundException"},
		{apiErr(400, "KMSOptInRequired"), fateFail, "KMSOptInRequired"},
		{apiErr(400, "KMSAccessDeniedException"), fateFail, "KMSAccessDeniedException"},
		{fmt.Errorf("send: %w", context.DeadlineExceeded), fateRetry, CodeRequestTimeout},
		{errors.New("read: connection reset by peer"), fateRetry, CodeTransport},
	} {
		f, code, _ := classifyErr(tc.err, false)
		if f != tc.fate || code != tc.code {
			t.Errorf("%v: got fate %d code %q, want %d %q", tc.err, f, code, tc.fate, tc.code)
		}
	}
	if f, _, _ := classifyErr(context.Canceled, true); f != fateClosed {
		t.Errorf("stopped producer: fate %d", f)
	}
}

func TestShardFromMessage(t *testing.T) {
	for msg, want := range map[string]string{
		"Rate exceeded for shard shardId-000000000007 in stream s under account 123456789012.": "shardId-000000000007",
		"Rate exceeded for stream s under account 123456789012.":                               "",
		"shardId-":                  "",
		"Internal service failure.": "",
	} {
		if got := shardFromMessage(msg); got != want {
			t.Errorf("%q: got %q, want %q", msg, got, want)
		}
	}
}

func TestErrorIsAndMessage(t *testing.T) {
	e := &Error{Kind: KindTTLExpired, Stream: "s", Code: "InternalFailure", Message: "Internal service failure.", Attempts: 4}
	if !errors.Is(e, ErrTTLExpired) || errors.Is(e, ErrClosed) {
		t.Fatal("errors.Is does not follow the kind")
	}
	want := `kinesis stream "s": record not delivered within its TTL after 4 attempt(s); last error: InternalFailure: Internal service failure.`
	if e.Error() != want {
		t.Fatalf("got  %s\nwant %s", e.Error(), want)
	}
	long := strings.Repeat("é", 400)
	if got := errtext.Truncate(long, maxMessage); len(got) > maxMessage+3 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Fatalf("truncate cut a character: %q", got[len(got)-8:])
	}
}
