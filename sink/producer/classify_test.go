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
		act  action
		code string
	}{
		{apiErr(400, "ProvisionedThroughputExceededException"), actRetry, "ProvisionedThroughputExceededException"},
		{apiErr(400, "KMSThrottlingException"), actRetry, "KMSThrottlingException"},
		{apiErr(500, "InternalFailure"), actRetry, "InternalFailure"},
		{apiErr(503, "UnknownError"), actRetry, "UnknownError"},
		{apiErr(400, "SomethingNew"), actRetry, "SomethingNew"},
		{apiErr(413, "UnknownError"), actSplit, CodeRequestTooLarge},
		{apiErr(400, "InvalidArgumentException"), actSplit, "InvalidArgumentException"},
		{apiErr(400, "ValidationException"), actSplit, "ValidationException"},
		{apiErr(400, "ResourceNotFoundException"), actFatal, "ResourceNotFoundException"},
		{apiErr(400, "AccessDeniedException"), actFatal, "AccessDeniedException"},
		{apiErr(400, "KMSDisabledException"), actFatal, "KMSDisabledException"},
		{apiErr(400, "KMSInvalidStateException"), actFatal, "KMSInvalidStateException"},
		{apiErr(400, "KMSNotFoundException"), actFatal, "KMSNotFoundException"},
		{apiErr(400, "KMSOptInRequired"), actFatal, "KMSOptInRequired"},
		{apiErr(400, "KMSAccessDeniedException"), actFatal, "KMSAccessDeniedException"},
		{fmt.Errorf("send: %w", context.DeadlineExceeded), actRetry, CodeRequestTimeout},
		{errors.New("read: connection reset by peer"), actRetry, CodeTransport},
	} {
		act, code, _ := classifyErr(tc.err, false)
		if act != tc.act || code != tc.code {
			t.Errorf("%v: got action %d code %q, want %d %q", tc.err, act, code, tc.act, tc.code)
		}
	}
	if act, _, _ := classifyErr(context.Canceled, true); act != actClosed {
		t.Errorf("stopped producer: action %d", act)
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
