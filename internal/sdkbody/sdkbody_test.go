package sdkbody_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
)

// keepRequest answers every call with one accepted record and keeps the
// request, whose body the SDK closes when Do returns.
type keepRequest struct{ req *http.Request }

func (k *keepRequest) Do(req *http.Request) (*http.Response, error) {
	k.req = req
	body := `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// drainAfterClose puts one record and then reads its request body as
// net/http's last length check does, after the SDK closed it.
func drainAfterClose(t *testing.T, opts ...func(*kinesis.Options)) error {
	t.Helper()
	hc := &keepRequest{}
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}}, opts...)
	_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String("k")}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, hc.req.Body)
	return err
}

// The SDK's own body fails the check with io.EOF, which is what makes
// net/http close the connection; with ReadOnly the check ends cleanly. If
// the first half stops failing, the SDK has fixed its body and this
// package can go.
func TestReadOnlyBodyEndsCleanlyAfterClose(t *testing.T) {
	if err := drainAfterClose(t); !errors.Is(err, io.EOF) {
		t.Errorf("SDK body after close: %v, want io.EOF (the failure ReadOnly avoids)", err)
	}
	withReadOnly := func(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, sdkbody.ReadOnly) }
	if err := drainAfterClose(t, withReadOnly); err != nil {
		t.Errorf("body after close with ReadOnly: %v, want a clean end", err)
	}
	// Once from the client's options, once from a call's: no error for
	// the middleware added twice.
	twice := func(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, sdkbody.ReadOnly, sdkbody.ReadOnly) }
	if err := drainAfterClose(t, twice); err != nil {
		t.Errorf("ReadOnly twice: %v", err)
	}
}

// The body still arrives whole, and a retry can rewind it.
func TestReadOnlyBodyIsSentWhole(t *testing.T) {
	calls := 0
	var bodies []string
	hc := doFunc(func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		bodies = append(bodies, string(b))
		calls++
		if calls == 1 {
			return nil, errors.New("connection reset by peer")
		}
		return (&keepRequest{}).Do(req)
	})
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: noWait(), APIOptions: []func(*middleware.Stack) error{sdkbody.ReadOnly}})
	if _, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{{Data: []byte("payload"), PartitionKey: aws.String("k")}}}); err != nil {
		t.Fatal(err)
	}
	want := `{"Records":[{"Data":"cGF5bG9hZA==","PartitionKey":"k"}],"StreamName":"s"}`
	if len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Errorf("bodies sent %q, want %q twice", bodies, want)
	}
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// noWait is the SDK's retryer without its backoff.
func noWait() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}
