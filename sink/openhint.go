package sink

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/smithy-go"
)

// streamActions are what the sink calls on a stream (docs/configuration.md,
// Minimal IAM policy).
const streamActions = "kinesis:DescribeStreamSummary, kinesis:ListShards and kinesis:PutRecords"

// resourceARN finds the resource AWS names in an AccessDenied message
// ("... is not authorized to perform: kinesis:X on resource: arn:...").
var resourceARN = regexp.MustCompile(`on resource: (arn:[^ ]+)`)

// openFix says, for an error of describing a stream at open, what to change;
// "" when the error names no cause a user fixes (a timeout, a 500).
func openFix(err error, stream, region string) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	arn := fmt.Sprintf("arn:aws:kinesis:%s:<account>:stream/%s", region, stream)
	if m := resourceARN.FindStringSubmatch(ae.ErrorMessage()); m != nil {
		arn = m[1]
	}
	switch ae.ErrorCode() {
	case "ResourceNotFoundException":
		return fmt.Sprintf("no stream %q in %s for these credentials' account: create it, or correct awsKinesisStreamName, topicToStreamMap or awsRegion", stream, region)
	case "AccessDeniedException":
		return fmt.Sprintf("these credentials may not use the stream: allow %s on %s", streamActions, arn)
	case "KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException", "KMSInvalidStateException":
		return fmt.Sprintf("the stream is encrypted with a KMS key these credentials cannot use (%s): allow kms:GenerateDataKey on the stream's key, or fix the key", ae.ErrorCode())
	case "ExpiredTokenException", "ExpiredToken":
		return "the session credentials expired: renew them, or use a plugin that renews them (awsCredentialPluginName: the default chain or STS assume-role)"
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature":
		return fmt.Sprintf("AWS refused the credentials (%s): check the access key and secret in awsCredentialPluginParam or the default chain, and awsRegion", ae.ErrorCode())
	}
	return ""
}
