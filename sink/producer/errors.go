package producer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pulsar-kinesis/kinesis-sink/internal/certerr"
)

// Kind classifies why a record failed. The sink decides from it what to do
// with the Pulsar message (dead-letter it, negatively acknowledge it so that
// Pulsar redelivers it, or stop the instance).
type Kind uint8

const (
	// KindInvalid: the entry itself is malformed (empty stream, partition key
	// not 1..256 characters or not UTF-8, explicit hash key not a decimal
	// integer in [0, 2^128-1]); found before sending. Redelivery cannot help.
	KindInvalid Kind = iota + 1
	// KindOversize: data + partition key exceed the stream's maximum record
	// size (or the whole request was too large with this record alone in
	// it). Found before sending when the size is known. Redelivery cannot help.
	KindOversize
	// KindRejected: Kinesis rejected this record alone (InvalidArgument or
	// ValidationException on a request holding only it). Redelivery cannot help.
	KindRejected
	// KindFatal: Kinesis refused the request for a reason no retry fixes:
	// the stream does not exist, access denied, or a KMS key problem. It
	// concerns the stream or the credentials, not the record; every record
	// of that stream will fail the same way until the configuration is fixed.
	KindFatal
	// KindTTLExpired: the record kept failing with retriable errors
	// (throttling, internal failures, timeouts, an unreachable endpoint) until
	// RecordTTL ran out. Redelivery later may succeed.
	KindTTLExpired
	// KindClosed: the producer was closed (or Close's deadline hit) before
	// the record was delivered. It may still have been written.
	KindClosed
	// KindThrottled: Kinesis throttled the record and Options.FailIfThrottled
	// says not to retry throttled records (KPL FailIfThrottled).
	KindThrottled
)

var kindNames = [...]string{"", "invalid", "oversize", "rejected", "fatal", "ttl-expired", "closed", "throttled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sentinels for errors.Is: errors.Is(err, ErrTTLExpired) holds for every
// *Error of KindTTLExpired. Put also returns ErrClosed itself.
var (
	ErrInvalid    = errors.New("producer: invalid record")
	ErrOversize   = errors.New("producer: record too large")
	ErrRejected   = errors.New("producer: record rejected by Kinesis")
	ErrFatal      = errors.New("producer: Kinesis refused the stream")
	ErrTTLExpired = errors.New("producer: record TTL expired")
	ErrClosed     = errors.New("producer: closed")
	ErrThrottled  = errors.New("producer: record throttled")
)

var kindSentinels = [...]error{nil, ErrInvalid, ErrOversize, ErrRejected, ErrFatal, ErrTTLExpired, ErrClosed, ErrThrottled}

// Error is the error a Result carries when a record was not delivered.
type Error struct {
	Kind   Kind
	Stream string
	// Code is the Kinesis error code of the last failure, e.g.
	// "ResourceNotFoundException" or "ProvisionedThroughputExceededException",
	// or one of the producer's own codes for failures without one:
	// CodeRequestTimeout, CodeTransport, CodeRequestTooLarge. Empty for
	// KindInvalid and KindOversize.
	Code string
	// Message is the detail: the service's message (truncated) or ours.
	Message string
	// Attempts is how many PutRecords calls carried the record.
	Attempts int
	// Err is the underlying error of the last attempt, if any.
	Err error
}

// Codes the producer assigns to failures that carry no Kinesis error code.
const (
	CodeRequestTimeout  = "RequestTimeout"        // RequestTimeout elapsed
	CodeTransport       = "TransportError"        // connection refused/reset, EOF, DNS...
	CodeCertificate     = "CertificateError"      // the endpoint's TLS certificate is not trusted
	CodeRequestTooLarge = "RequestEntityTooLarge" // HTTP 413 without a code
	CodeBadResponse     = "BadResponse"           // response not index-aligned with the request
	// CodeShardMismatch: an aggregate was stored on another shard than the
	// shard map predicted (resharding); it is sent again with a fresh map.
	CodeShardMismatch = "ShardMismatch"
)

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kinesis stream %q: ", e.Stream)
	switch e.Kind {
	case KindInvalid:
		b.WriteString("invalid record: ")
	case KindOversize:
		b.WriteString("record too large: ")
	case KindRejected:
		b.WriteString("record rejected: ")
	case KindFatal:
		b.WriteString("PutRecords refused: ")
	case KindTTLExpired:
		fmt.Fprintf(&b, "record not delivered within its TTL after %d attempt(s); last error: ", e.Attempts)
	case KindClosed:
		fmt.Fprintf(&b, "producer closed before the record was delivered (%d attempt(s))", e.Attempts)
		if e.Code == "" {
			return b.String()
		}
		b.WriteString("; last error: ")
	}
	if e.Code != "" {
		b.WriteString(e.Code)
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the underlying error of the last attempt.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrX) match on the kind.
func (e *Error) Is(target error) bool {
	return int(e.Kind) < len(kindSentinels) && target == kindSentinels[e.Kind] && target != nil
}

// codeInfo is what one error code means: for the records of the request
// (their fate: fateRetry, fateSplit or fateFail, which is KindFatal) and,
// where the user must change something, for the user (fix).
type codeInfo struct {
	fate fate
	// fix is what to change, with {stream}, {region}, {arn} (the stream's)
	// and {code} filled in; "" when nothing is to change.
	fix string
}

// One text per cause, whichever of its codes AWS answers.
const (
	fixKMS         = "the stream is encrypted with a KMS key these credentials cannot use ({code}): allow kms:GenerateDataKey on the stream's key, or fix the key"
	fixCredentials = "AWS refused the credentials ({code}): check the access key and secret in awsCredentialPluginParam or the default chain, and awsRegion"
)

// kinesisCodes are the error codes of the Kinesis API reference (PutRecords
// errors and PutRecordsResultEntry) and the common AWS errors. Retried: the
// service is busy or failed internally, the same request can succeed later.
// Split: something in the request is malformed; halving it isolates the
// entry responsible. Fatal: the stream, account or key configuration is
// wrong, retrying the same request cannot help. A code not listed is
// retried: RecordTTL bounds the cost of being wrong, while failing a record
// that would have gone through loses data.
var kinesisCodes = map[string]codeInfo{
	throttleCode:                  {fate: fateRetry},
	"InternalFailure":             {fate: fateRetry}, // per-entry and common error
	"InternalFailureException":    {fate: fateRetry},
	"KMSThrottlingException":      {fate: fateRetry},
	"ThrottlingException":         {fate: fateRetry},
	"LimitExceededException":      {fate: fateRetry},
	"ServiceUnavailable":          {fate: fateRetry},
	"ServiceUnavailableException": {fate: fateRetry},
	"RequestTimeout":              {fate: fateRetry},
	"RequestTimeoutException":     {fate: fateRetry},
	// The credentials cache refreshes; fixed session keys cannot be.
	"ExpiredTokenException": {fate: fateRetry, fix: "the session credentials expired: renew them, or use a plugin that renews them (the default chain, or STS assume-role)"},
	"RequestExpired":        {fate: fateRetry}, // clock skew; the SDK corrects it

	"InvalidArgumentException": {fate: fateSplit}, // AWS
	"ValidationException":      {fate: fateSplit}, // kinesalite, and AWS's model validation
	"SerializationException":   {fate: fateSplit},

	"ResourceNotFoundException":           {fate: fateFail, fix: "no stream \"{stream}\" in {region} for these credentials' account: create it, or correct awsKinesisStreamName, topicToStreamMap or awsRegion"},
	"AccessDeniedException":               {fate: fateFail, fix: "these credentials may not use the stream: allow " + StreamActions + " on {arn}"},
	"KMSAccessDeniedException":            {fate: fateFail, fix: fixKMS},
	"KMSDisabledException":                {fate: fateFail, fix: fixKMS},
	"KMSInvalidStateException":            {fate: fateFail, fix: fixKMS},
	"KMSNotFoundException":                {fate: fateFail, fix: fixKMS},
	"KMSOptInRequired":                    {fate: fateFail, fix: fixKMS},
	"UnrecognizedClientException":         {fate: fateFail, fix: fixCredentials},
	"InvalidSignatureException":           {fate: fateFail, fix: fixCredentials},
	"IncompleteSignatureException":        {fate: fateFail, fix: fixCredentials},
	"MissingAuthenticationTokenException": {fate: fateFail, fix: fixCredentials},
	"InvalidClientTokenId":                {fate: fateFail, fix: fixCredentials},
	"UnknownOperationException":           {fate: fateFail, fix: "the endpoint does not speak Kinesis: check awsEndpoint, or AWS_ENDPOINT_URL_KINESIS in the instance's environment"},
}

// StreamActions are the IAM actions the producer calls on a stream.
const StreamActions = "kinesis:DescribeStreamSummary, kinesis:ListShards and kinesis:PutRecords"

// classifyCode maps a Kinesis error code (whole-request or per-entry) to
// the fate of the records it was answered for.
func classifyCode(code string) fate {
	if c, ok := kinesisCodes[code]; ok {
		return c.fate
	}
	return fateRetry
}

// resourceARN finds the resource AWS names in an AccessDenied message
// ("... is not authorized to perform: kinesis:X on resource: arn:...").
var resourceARN = regexp.MustCompile(`on resource: (arn:[^ ]+)`)

// Fix says what to change about an error of a call on stream in region:
// one line, or "" when the error names no cause a user fixes (a timeout, a
// server error).
func Fix(err error, stream, region string) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	c := kinesisCodes[ae.ErrorCode()]
	if c.fix == "" {
		return ""
	}
	arn := fmt.Sprintf("arn:aws:kinesis:%s:<account>:stream/%s", region, stream)
	if m := resourceARN.FindStringSubmatch(ae.ErrorMessage()); m != nil {
		arn = m[1]
	}
	return strings.NewReplacer("{stream}", stream, "{region}", region, "{arn}", arn, "{code}", ae.ErrorCode()).Replace(c.fix)
}

// classifyErr turns a failed PutRecords call into a fate, a code and a
// message. stopped says the producer's own context was cancelled.
func classifyErr(err error, stopped bool) (fate, string, string) {
	if stopped {
		return fateClosed, "", err.Error()
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg := ae.ErrorCode(), ae.ErrorMessage()
		if status == 413 {
			// kinesalite answers bodies over 7 MiB with a bare 413, which
			// the SDK reports as UnknownError.
			if code == "" || code == "UnknownError" {
				code = CodeRequestTooLarge
			}
			return fateSplit, code, msg
		}
		return classifyCode(code), code, msg
	}
	if status == 413 {
		return fateSplit, CodeRequestTooLarge, err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fateRetry, CodeRequestTimeout, "no response within RequestTimeout"
	}
	// A certificate the sink does not trust will not become trusted by
	// retrying; it is a setting to fix (a CA, or skipCertificateValidation).
	if certerr.Is(err) {
		return fateFail, CodeCertificate, err.Error()
	}
	// Transport errors (refused, reset, EOF, DNS, TLS) and anything else the
	// SDK reports without a service code: the request may or may not have
	// reached Kinesis, so retrying can duplicate, which at-least-once allows.
	return fateRetry, CodeTransport, err.Error()
}

// shardFromMessage extracts "shardId-000000000001" from a throttling
// message such as "Rate exceeded for shard shardId-000000000001 in stream s
// under account 123456789012.", or "" when there is none.
func shardFromMessage(msg string) string {
	i := strings.Index(msg, "shardId-")
	if i < 0 {
		return ""
	}
	j := i + len("shardId-")
	for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
		j++
	}
	if j == i+len("shardId-") {
		return ""
	}
	return msg[i:j]
}

// maxMessage bounds the service messages kept in errors: kinesalite's
// ValidationException for a 500-entry request lists every entry (~20 KB).
const maxMessage = 512
