package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The hand-written PutRecords body must say exactly what the SDK's own
// serializer says: both are sent through a real SDK client to a server that
// captures them, and the two bodies are compared as JSON values.
func TestPutRecordsBodyMatchesSDK(t *testing.T) {
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" || !strings.Contains(r.Header.Get("Content-Type"), "x-amz-json-1.1") {
			t.Errorf("headers: %v", r.Header)
		}
		bodies = append(bodies, b)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"FailedRecordCount":0,"Records":[]}`)
	}))
	defer srv.Close()
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}})
	in := &kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: []types.PutRecordsRequestEntry{
		{Data: []byte("hello"), PartitionKey: aws.String("k1")},
		{Data: []byte{}, PartitionKey: aws.String("quote\" back\\slash\nnl\ttab\x01ctl é 日本 \u2028"), ExplicitHashKey: aws.String("340282366920938463463374607431768211455")},
		{Data: bytes.Repeat([]byte{0, 0xff, 0x80}, 1000), PartitionKey: aws.String("k3")},
	}}
	for _, opt := range []func(*kinesis.Options){func(*kinesis.Options) {}, fastPutRecords} {
		if _, err := c.PutRecords(context.Background(), in, opt); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 2 {
		t.Fatalf("%d requests", len(bodies))
	}
	var sdk, ours any
	if err := json.Unmarshal(bodies[0], &sdk); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bodies[1], &ours); err != nil {
		t.Fatalf("our body is not JSON: %v\n%s", err, bodies[1])
	}
	if !reflect.DeepEqual(sdk, ours) {
		t.Fatalf("bodies differ:\nSDK:  %s\nours: %s", bodies[0], bodies[1])
	}
}

func TestAppendJSONStringInvalidUTF8(t *testing.T) {
	var got string
	if err := json.Unmarshal(appendJSONString(nil, "a\xffb"), &got); err != nil || got != "a\ufffdb" {
		t.Fatalf("got %q (%v), want %q", got, err, "a\ufffdb")
	}
}
