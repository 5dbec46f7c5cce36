// Package kinesisrules is the one place for what Kinesis Data Streams accepts
// from a producer: request and record limits, and the rules for stream
// names, partition keys and explicit hash keys (Kinesis API reference,
// PutRecords and PutRecordsRequestEntry). The configuration checks, the
// router and the producer all ask here, so that a record the config
// allowed is never refused later for the same reason.
package kinesisrules

import (
	"strings"
	"unicode/utf8"
)

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

// A stream may be named by its ARN, arn:<partition>:kinesis:<region>:
// <account>:stream/<name>: requests then carry StreamARN, which is what a
// resource-based stream policy needs for writes from another account.

// IsStreamARN reports whether s is meant as an ARN (it starts with "arn:");
// ParseStreamARN says whether it is a valid one.
func IsStreamARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// StreamARN is a parsed stream ARN.
type StreamARN struct {
	Partition, Region, Account, Name string
}

// ParseStreamARN parses arn:<partition>:kinesis:<region>:<account>:stream/<name>.
func ParseStreamARN(s string) (StreamARN, bool) {
	var a StreamARN
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" {
		return a, false
	}
	a.Partition, a.Region, a.Account = parts[1], parts[3], parts[4]
	name, ok := strings.CutPrefix(parts[5], "stream/")
	if !ok {
		return a, false
	}
	a.Name = name
	if !validPartition(a.Partition) || !validRegion(a.Region) || len(a.Account) != 12 || !allDigits(a.Account) || !ValidStreamName(a.Name) {
		return StreamARN{}, false
	}
	return a, true
}

// RegionProblem says why a sink configured for region cannot write to the
// stream: requests are signed for that region and sent to its endpoint, so
// a stream of another region is unreachable. It is "" when the regions
// match, or region is "" (an emulator's endpoint, with no region set).
func (a StreamARN) RegionProblem(region string) string {
	if region != "" && a.Region != region {
		return "is a stream of region " + a.Region + ", but awsRegion is " + region + "; write to it from a sink configured for " + a.Region
	}
	return ""
}

// StreamName is the name of a stream given by name or by ARN.
func StreamName(s string) string {
	if a, ok := ParseStreamARN(s); ok {
		return a.Name
	}
	return s
}

// ValidStream reports whether s names a stream: a valid name or stream ARN.
func ValidStream(s string) bool {
	if IsStreamARN(s) {
		_, ok := ParseStreamARN(s)
		return ok
	}
	return ValidStreamName(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// validPartition accepts aws, aws-cn, aws-us-gov and the like.
func validPartition(p string) bool {
	rest, ok := strings.CutPrefix(p, "aws-")
	return p == "aws" || ok && lowerDashes(rest)
}

// validRegion accepts region names such as us-east-1 (and emulators' "local").
func validRegion(r string) bool { return r != "" && lowerDashes(r) }

func lowerDashes(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
