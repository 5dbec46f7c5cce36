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
