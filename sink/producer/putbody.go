package producer

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// putRecordsProtocol writes the PutRecords request body itself and leaves
// everything else (other operations, response decoding, signing) to the
// SDK's awsJson1.1 protocol it wraps.
//
// Why: under make bench the SDK's generic serializer was the largest single
// cost of the sink. It appends each record's base64 to a buffer that grows
// by doubling (growslice and memmove were half the sink's CPU with 10 KiB
// records: 5 MiB requests), then copies the result once more. Here the body
// is sized before it is written, the base64 is encoded in place, and the
// JSON is the same: {"StreamName":…,"Records":[{"Data":…,"PartitionKey":…,
// "ExplicitHashKey":…}]}.
type putRecordsProtocol struct {
	smithyhttp.ClientProtocol
}

// fastPutRecords installs putRecordsProtocol for one call.
func fastPutRecords(o *kinesis.Options) {
	if o.Protocol != nil {
		o.Protocol = putRecordsProtocol{o.Protocol}
	}
}

func (p putRecordsProtocol) SerializeRequest(ctx context.Context, schema *smithy.OperationSchema, in smithy.Serializable, req *smithyhttp.Request) error {
	pr, ok := in.(*kinesis.PutRecordsInput)
	if !ok {
		return p.ClientProtocol.SerializeRequest(ctx, schema, in, req)
	}
	req.Method = http.MethodPost
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sreq, err := req.SetStream(bytes.NewReader(appendPutRecordsBody(nil, pr)))
	if err != nil {
		return err
	}
	*req = *sreq
	return nil
}

// appendPutRecordsBody appends the JSON body of a PutRecords request.
func appendPutRecordsBody(dst []byte, in *kinesis.PutRecordsInput) []byte {
	n := 64
	if in.StreamName != nil {
		n += len(*in.StreamName)
	}
	if in.StreamARN != nil {
		n += len(*in.StreamARN)
	}
	for i := range in.Records {
		e := &in.Records[i]
		n += 64 + base64.StdEncoding.EncodedLen(len(e.Data))
		if e.PartitionKey != nil {
			n += len(*e.PartitionKey)
		}
		if e.ExplicitHashKey != nil {
			n += len(*e.ExplicitHashKey)
		}
	}
	if cap(dst)-len(dst) < n {
		dst = append(make([]byte, 0, len(dst)+n), dst...)
	}
	dst = append(dst, '{')
	sep := false
	field := func(name string) {
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":`...)
	}
	if in.StreamName != nil {
		field("StreamName")
		dst = appendJSONString(dst, *in.StreamName)
	}
	if in.StreamARN != nil {
		field("StreamARN")
		dst = appendJSONString(dst, *in.StreamARN)
	}
	field("Records")
	dst = append(dst, '[')
	for i := range in.Records {
		e := &in.Records[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"Data":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, e.Data)
		dst = append(dst, '"')
		if e.ExplicitHashKey != nil {
			dst = append(dst, `,"ExplicitHashKey":`...)
			dst = appendJSONString(dst, *e.ExplicitHashKey)
		}
		if e.PartitionKey != nil {
			dst = append(dst, `,"PartitionKey":`...)
			dst = appendJSONString(dst, *e.PartitionKey)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Partition keys are user data:
// quotes, backslashes and control characters are escaped; other characters
// (valid UTF-8, checked by validateEntry) are written as they are, and
// invalid bytes as U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
