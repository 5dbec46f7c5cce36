// Package kinesisrules is the one place for what Kinesis Data Streams accepts
// from a producer: request and record limits, and the rules for stream
// names, partition keys and explicit hash keys (Kinesis API reference,
// PutRecords and PutRecordsRequestEntry). The configuration checks, the
// router and the producer all ask here, so that a record the config
// allowed is never refused later for the same reason.
package kinesisrules

import "unicode/utf8"

const mib = 1 << 20

// Service limits. They bound settings; they are not defaults.
const (
	// MaxRecordsPerRequest is the most entries one PutRecords call may carry.
	MaxRecordsPerRequest = 500
	// MaxBytesPerRequest is the most data + partition key bytes of one call.
	MaxBytesPerRequest = 10 * mib
	// MaxRecordSize is the largest record (data + partition key) a stream
	// can be configured to accept (MaxRecordSizeInKiB 10240).
	MaxRecordSize = 10 * mib
	// DefaultRecordSize is what a stream accepts unless its
	// MaxRecordSizeInKiB was raised: 1 MiB, data + partition key.
	DefaultRecordSize = 1 * mib
	// MaxPartitionKeyChars is the partition key limit, in Unicode
	// characters (not bytes).
	MaxPartitionKeyChars = 256
	// MaxStreamNameChars is the longest stream name.
	MaxStreamNameChars = 128
	// MaxHashKey is 2^128-1, the largest explicit hash key, in decimal.
	MaxHashKey = "340282366920938463463374607431768211455"
)

// StreamNameChar reports whether c may appear in a stream name
// ([a-zA-Z0-9_.-]).
func StreamNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// ValidStreamName reports whether s matches the StreamName pattern
// [a-zA-Z0-9_.-]{1,128}.
func ValidStreamName(s string) bool {
	if len(s) < 1 || len(s) > MaxStreamNameChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !StreamNameChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidPartitionKey reports whether k is valid UTF-8 of 1 to 256 characters.
func ValidPartitionKey(k string) bool {
	if !utf8.ValidString(k) {
		return false
	}
	n := utf8.RuneCountInString(k)
	return n >= 1 && n <= MaxPartitionKeyChars
}

// CutPartitionKey keeps at most MaxPartitionKeyChars characters of k, never
// splitting one. (The Java sink cuts to 255 UTF-16 units, an off-by-one not
// copied here.)
func CutPartitionKey(k string) string {
	if len(k) <= MaxPartitionKeyChars { // bytes >= characters
		return k
	}
	c := 0
	for i := range k {
		if c == MaxPartitionKeyChars {
			return k[:i]
		}
		c++
	}
	return k
}

// ValidExplicitHashKey reports whether h is what the API accepts: the
// pattern 0|([1-9]\d{0,38}) within [0, 2^128-1].
func ValidExplicitHashKey(h string) bool {
	if h == "0" {
		return true
	}
	if len(h) < 1 || len(h) > len(MaxHashKey) || h[0] == '0' {
		return false
	}
	for i := 0; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	// Decimal strings of one length compare like their values.
	return len(h) < len(MaxHashKey) || h <= MaxHashKey
}
