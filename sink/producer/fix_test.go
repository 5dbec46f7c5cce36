package producer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestFix(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: arn:aws:iam::444455556666:user/sink is not authorized to perform: kinesis:DescribeStreamSummary on resource: arn:aws:kinesis:eu-west-1:444455556666:stream/orders because no identity-based policy allows the kinesis:DescribeStreamSummary action"}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"missing stream", fmt.Errorf("describe kinesis stream %q: %w", "orders", &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Stream orders under account 444455556666 not found."}),
			[]string{`no stream "orders" in eu-west-1`, "awsKinesisStreamName", "topicToStreamMap", "awsRegion"}},
		{"access denied, the ARN from AWS's message", denied,
			[]string{"kinesis:DescribeStreamSummary, kinesis:ListShards and kinesis:PutRecords", "on arn:aws:kinesis:eu-west-1:444455556666:stream/orders"}},
		{"access denied, no ARN in the message", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "denied"},
			[]string{"on arn:aws:kinesis:eu-west-1:<account>:stream/orders"}},
		{"expired session", &smithy.GenericAPIError{Code: "ExpiredTokenException"}, []string{"expired", "renew"}},
		{"bad key", &smithy.GenericAPIError{Code: "UnrecognizedClientException"}, []string{"UnrecognizedClientException", "awsCredentialPluginParam"}},
		{"a KMS key", &smithy.GenericAPIError{Code: "KMSAccessDeniedException"}, []string{"KMS", "kms:GenerateDataKey"}},
		{"a server error", &smithy.GenericAPIError{Code: "InternalFailure"}, nil},
		{"not from AWS", fmt.Errorf("dial tcp: connection refused"), nil},
	} {
		got := Fix(tc.err, "orders", "eu-west-1")
		if tc.want == nil && got != "" {
			t.Errorf("%s: %q, want none", tc.name, got)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: not one line: %q", tc.name, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
}

// TestEveryFatalCodeHasAFix: a code that fails every record of a stream
// until the configuration changes must say what to change.
func TestEveryFatalCodeHasAFix(t *testing.T) {
	for code, c := range kinesisCodes {
		if c.fate == fateFail && c.fix == "" {
			t.Errorf("%s fails records for good but names no fix", code)
		}
		if c.fix != "" {
			if got := Fix(&smithy.GenericAPIError{Code: code}, "s", "r"); got == "" || strings.ContainsAny(got, "{}%") {
				t.Errorf("%s: fix %q", code, got)
			}
		}
	}
}
