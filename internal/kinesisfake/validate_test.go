package kinesisfake_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisfake"
)

// TestSizeLimits covers what parity cannot (kinesalite has none of it):
// the request size limit, and a stream's raised record size.
func TestSizeLimits(t *testing.T) {
	const mib = 1 << 20
	m := kinesisfake.New(kinesisfake.Config{NoShardLimit: true})
	m.MustCreateStream("s", 1)
	if _, err := m.CreateStream(kinesisfake.StreamSpec{Name: "large", Shards: 1, MaxRecordSizeInKiB: 2048}); err != nil {
		t.Fatal(err)
	}
	c := m.Client()
	ctx := context.Background()
	big := func(n, size int) []types.PutRecordsRequestEntry {
		out := make([]types.PutRecordsRequestEntry, n)
		for i := range out {
			out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, size-1)}
		}
		return out
	}
	for _, tc := range []struct {
		name, stream string
		recs         []types.PutRecordsRequestEntry
		code, msg    string
	}{
		{"10 MiB exactly", "s", big(10, mib), "", ""},
		{"over 10 MiB", "s", append(big(10, mib), big(1, 1)...), kinesisfake.CodeInvalidArgument, "Records size exceeds 10 MB limit"},
		{"1.5 MiB record on a 2 MiB stream", "large", big(1, 3*mib/2), "", ""},
		{"2 MiB record on a 2 MiB stream", "large", big(1, 2*mib), "", ""},
		{"over 2 MiB on a 2 MiB stream", "large", big(1, 2*mib+1), kinesisfake.CodeInvalidArgument, "records.1 has 2097153 bytes"},
		{"over 10 MiB of data", "large", []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: make([]byte, 10*mib+1)}},
			kinesisfake.CodeValidation, "Member must have length less than or equal to 10485760"},
	} {
		_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(tc.stream), Records: tc.recs})
		code, _ := codeOf(err)
		if code != tc.code || err != nil && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %s %q", tc.name, err, tc.code, tc.msg)
		}
	}
	m5 := kinesisfake.New(kinesisfake.Config{MaxRequestBytes: 5 * mib})
	m5.MustCreateStream("s", 1)
	_, err := m5.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: big(6, mib)})
	if code, _ := codeOf(err); code != kinesisfake.CodeInvalidArgument || !strings.Contains(err.Error(), "Records size exceeds 5 MB limit") {
		t.Errorf("6 MiB at a 5 MiB limit: %v", err)
	}
}

func TestValidationInMemoryOnly(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	st := m.MustCreateStream("s", 1)
	c := m.Client()
	ctx := context.Background()
	// The SDK does not require a partition key; Kinesis does.
	_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{{Data: []byte("x")}}})
	if code, _ := codeOf(err); code != kinesisfake.CodeValidation || !strings.Contains(err.Error(), "Value null at 'records.1.member.partitionKey' failed to satisfy constraint: Member must not be null") {
		t.Errorf("nil partition key: %v", err)
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("other"), StreamARN: aws.String(st.ARN()), Records: entries(1, "k", 1)})
	if code, _ := codeOf(err); code != kinesisfake.CodeInvalidArgument {
		t.Errorf("name and ARN of different streams: %v", err)
	}
	if _, err := m.CreateStream(kinesisfake.StreamSpec{Name: "s", Shards: 1}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("creating a stream twice: %v", err)
	}
	for _, spec := range []kinesisfake.StreamSpec{{Name: "bad name", Shards: 1}, {Name: "z", Shards: 0}, {Name: "z", Shards: 1, MaxRecordSizeInKiB: 512}} {
		if _, err := m.CreateStream(spec); err == nil {
			t.Errorf("CreateStream(%+v) succeeded", spec)
		}
	}
	if err := m.DeleteStream("s"); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries(1, "k", 1)})
	if code, _ := codeOf(err); code != kinesisfake.CodeResourceNotFound {
		t.Errorf("after DeleteStream: %v", err)
	}
}

func TestHandlerRefusals(t *testing.T) {
	m := kinesisfake.New(kinesisfake.Config{})
	srv := serveURL(t, m)
	for _, tc := range []struct {
		name, target, ctype, body string
		status                    int
		code                      string
	}{
		{"unknown operation", "Kinesis_20131202.PutRecord", "application/x-amz-json-1.1", "{}", 400, kinesisfake.CodeUnknownOperation},
		{"no target", "", "application/x-amz-json-1.1", "{}", 400, kinesisfake.CodeUnknownOperation},
		{"bad JSON", "Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", "{", 400, kinesisfake.CodeSerialization},
		{"CBOR", "Kinesis_20131202.PutRecords", "application/x-amz-cbor-1.1", "\xa0", 400, kinesisfake.CodeSerialization},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv, strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", tc.ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-Errortype") != tc.code {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
		}
	}
}
