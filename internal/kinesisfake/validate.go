package kinesisfake

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// Kinesis checks a request in two steps, and the model keeps both: the
// service framework first checks the request against the API model (lengths,
// patterns, required members) and answers every violation at once, up to
// ten, as one ValidationException; only a request that passes reaches the
// service, whose own checks (the stream exists, hash key range, sizes)
// answer InvalidArgumentException or ResourceNotFoundException. The
// messages are written as kinesalite writes them, which copies Kinesis's.

// maxValidationErrors is how many violations one ValidationException lists.
const maxValidationErrors = 10

var (
	streamNamePattern = `[a-zA-Z0-9_.-]+`
	streamARNPattern  = `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`
	hashKeyPattern    = `0|([1-9]\d{0,38})`
	streamNameRE      = regexp.MustCompile(`^(?:` + streamNamePattern + `)$`)
	streamARNRE       = regexp.MustCompile(`^(?:` + streamARNPattern + `)$`)
	hashKeyRE         = regexp.MustCompile(`^(?:` + hashKeyPattern + `)$`)
)

// entryMemberStr is how the Java framework prints a list of request
// entries in a message: each as its class and a hash.
const entryMemberStr = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"

// violations collects model-validation failures in the order Kinesis
// reports them.
type violations []string

func (v *violations) add(value, path, constraint string) {
	if len(*v) < maxValidationErrors {
		*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, path, constraint))
	}
}

func (v violations) err() *APIError {
	if len(v) == 0 {
		return nil
	}
	s := "s"
	if len(v) == 1 {
		s = ""
	}
	return apiErr(CodeValidation, "%d validation error%s detected: %s", len(v), s, strings.Join(v, "; "))
}

func quoted(s string) string { return "'" + s + "'" }

func blobValue(n int) string {
	return fmt.Sprintf("'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'", n, n)
}

// javaLen is a string's length as the service counts it: UTF-16 code units
// (Java's String.length), so a character outside the Basic Multilingual
// Plane counts two.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

func (v *violations) stringLen(s *string, path string, minLen, maxLen int) {
	if s == nil {
		return
	}
	n := javaLen(*s)
	if n < minLen {
		v.add(quoted(*s), path, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if n > maxLen {
		v.add(quoted(*s), path, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
}

func (v *violations) pattern(s *string, path string, re *regexp.Regexp, pattern string) {
	if s != nil && !re.MatchString(*s) {
		v.add(quoted(*s), path, "Member must satisfy regular expression pattern: "+pattern)
	}
}

func (v *violations) notNull(isNil bool, path string) {
	if isNil {
		v.add("null", path, "Member must not be null")
	}
}

// streamArgs checks StreamName and StreamARN. Kinesis takes either; a
// request with neither is answered as kinesalite answers it (StreamName
// was required before StreamARN existed).
func (v *violations) streamArgs(name, arn *string) {
	if name == nil && arn == nil {
		v.notNull(true, "streamName")
		return
	}
	v.pattern(name, "streamName", streamNameRE, streamNamePattern)
	v.stringLen(name, "streamName", 1, kinesisrules.MaxStreamNameChars)
	v.pattern(arn, "streamARN", streamARNRE, streamARNPattern)
	v.stringLen(arn, "streamARN", 1, 2048)
}

// entryValid says whether an entry passes model validation, without
// building the messages: most entries of most requests do.
func entryValid(e *types.PutRecordsRequestEntry) bool {
	if e.PartitionKey == nil || e.Data == nil || len(e.Data) > kinesisrules.MaxRecordSize {
		return false
	}
	if n := javaLen(*e.PartitionKey); n < 1 || n > kinesisrules.MaxPartitionKeyChars {
		return false
	}
	return e.ExplicitHashKey == nil || hashKeyRE.MatchString(*e.ExplicitHashKey)
}

// validatePutRecords is the model validation of a PutRecords request.
func validatePutRecords(in *kinesis.PutRecordsInput) *APIError {
	var v violations
	recs := in.Records
	v.notNull(recs == nil, "records")
	if recs != nil {
		if len(recs) < 1 || len(recs) > kinesisrules.MaxRecordsPerRequest {
			members := strings.TrimSuffix(strings.Repeat(entryMemberStr+", ", len(recs)), ", ")
			c := "Member must have length greater than or equal to 1"
			if len(recs) > kinesisrules.MaxRecordsPerRequest {
				c = fmt.Sprintf("Member must have length less than or equal to %d", kinesisrules.MaxRecordsPerRequest)
			}
			v.add(quoted("["+members+"]"), "records", c)
		}
		for i := range recs {
			if entryValid(&recs[i]) {
				continue
			}
			e := &recs[i]
			path := fmt.Sprintf("records.%d.member.", i+1)
			v.notNull(e.PartitionKey == nil, path+"partitionKey")
			v.stringLen(e.PartitionKey, path+"partitionKey", 1, kinesisrules.MaxPartitionKeyChars)
			v.pattern(e.ExplicitHashKey, path+"explicitHashKey", hashKeyRE, hashKeyPattern)
			v.notNull(e.Data == nil, path+"data")
			if len(e.Data) > kinesisrules.MaxRecordSize {
				v.add(blobValue(len(e.Data)), path+"data",
					fmt.Sprintf("Member must have length less than or equal to %d", kinesisrules.MaxRecordSize))
			}
		}
	}
	v.streamArgs(in.StreamName, in.StreamARN)
	return v.err()
}

// checkEntries is the service's check of a PutRecords request that passed
// model validation, against the stream it names: every explicit hash key
// within [0, 2^128-1], every record (data + partition key) within the
// stream's maximum record size, and the whole request within maxRequest
// bytes. The wording of the record-size message is the model's own: the
// service's is not documented and kinesalite has no such check.
func checkEntries(recs []types.PutRecordsRequestEntry, st *Stream, maxRequest int) *APIError {
	limit := st.MaxRecordSize()
	total := 0
	for i := range recs {
		e := &recs[i]
		if e.ExplicitHashKey != nil {
			if _, err := kpl.ParseHash(*e.ExplicitHashKey); err != nil {
				return apiErr(CodeInvalidArgument, "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", *e.ExplicitHashKey)
			}
		}
		size := len(e.Data) + len(*e.PartitionKey)
		if size > limit {
			return apiErr(CodeInvalidArgument, "Record size exceeds the maximum record size of the stream %s under account %s: records.%d has %d bytes of data and partition key, the stream accepts %d (MaxRecordSizeInKiB %d).",
				st.name, st.account, i+1, size, limit, limit/1024)
		}
		total += size
	}
	if total > maxRequest {
		return apiErr(CodeInvalidArgument, "Records size exceeds %d MB limit", maxRequest>>20)
	}
	return nil
}
