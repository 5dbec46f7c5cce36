package kinesisrules

import (
	"strings"
	"testing"
)

func TestValidExplicitHashKey(t *testing.T) {
	for h, ok := range map[string]bool{
		"0": true, "1": true, MaxHashKey: true, "99999999999999999999999999999999999999": true,
		"340282366920938463463374607431768211456": false, // 2^128
		"999999999999999999999999999999999999999": false,
		"": false, "01": false, "-1": false, "1e3": false, " 1": false, "1.5": false, "abc": false,
	} {
		if ValidExplicitHashKey(h) != ok {
			t.Errorf("%q: want %v", h, ok)
		}
	}
}

func TestStreamName(t *testing.T) {
	for s, ok := range map[string]bool{
		"a": true, "my_stream.v1-x": true, strings.Repeat("s", 128): true,
		"": false, strings.Repeat("s", 129): false, "a b": false, "a/b": false, "é": false,
	} {
		if ValidStreamName(s) != ok {
			t.Errorf("%q: want %v", s, ok)
		}
	}
}

func TestPartitionKey(t *testing.T) {
	for k, ok := range map[string]bool{
		"k": true, strings.Repeat("é", 256): true,
		"": false, strings.Repeat("é", 257): false, "\xff": false,
	} {
		if ValidPartitionKey(k) != ok {
			t.Errorf("%q: want %v", k, ok)
		}
	}
	long := strings.Repeat("é", 300) // 2 bytes per character
	if got := CutPartitionKey(long); got != strings.Repeat("é", 256) {
		t.Errorf("cut to %d characters, want 256", len([]rune(got)))
	}
	if a := strings.Repeat("a", 256); CutPartitionKey(a) != a {
		t.Error("exactly 256 characters must be kept")
	}
}

func TestStreamARN(t *testing.T) {
	good := map[string]StreamARN{
		"arn:aws:kinesis:eu-west-1:123456789012:stream/orders":       {"aws", "eu-west-1", "123456789012", "orders"},
		"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b_c-d":  {"aws-cn", "cn-north-1", "123456789012", "a.b_c-d"},
		"arn:aws-us-gov:kinesis:us-gov-west-1:000000000000:stream/x": {"aws-us-gov", "us-gov-west-1", "000000000000", "x"},
	}
	for s, want := range good {
		got, ok := ParseStreamARN(s)
		if !ok || got != want || !ValidStream(s) || StreamName(s) != want.Name {
			t.Errorf("%s: %+v %v", s, got, ok)
		}
	}
	for _, s := range []string{
		"arn:aws:kinesis:eu-west-1:123456789012:stream/",
		"arn:aws:kinesis:eu-west-1:12345678901:stream/s",
		"arn:aws:kinesis:eu-west-1:123456789012:consumer/s",
		"arn:aws:sqs:eu-west-1:123456789012:stream/s",
		"arn:aws:kinesis::123456789012:stream/s",
		"arn:azure:kinesis:eu-west-1:123456789012:stream/s",
		"arn:aws:kinesis:eu-west-1:123456789012:stream/a/b",
		"arn:aws:kinesis:EU-west-1:123456789012:stream/s",
		"arn:",
	} {
		if _, ok := ParseStreamARN(s); ok || ValidStream(s) {
			t.Errorf("%s: accepted", s)
		}
	}
	if !ValidStream("plain-name") || StreamName("plain-name") != "plain-name" || IsStreamARN("plain-name") {
		t.Error("a plain stream name")
	}
}
