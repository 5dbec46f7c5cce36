package testenv

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// AWSEnv is moto: one endpoint serving every AWS service it emulates (Kinesis, CloudWatch, STS), routed by the
// signing scope of each request.
type AWSEnv struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:5000.
	Endpoint string
	// Region is the region requests are signed for.
	Region string
}

// AWS returns the moto server named by AWS_EMULATOR_ENDPOINT (region AWS_REGION, default us-east-1), after checking
// that it answers. It skips t (fails it under KS_REQUIRE_SERVICES=1) otherwise.
func AWS(t testing.TB) *AWSEnv {
	t.Helper()
	skipShort(t)
	ep := os.Getenv(EnvAWSEndpoint)
	if ep == "" {
		unavailable(t, "AWS emulator not configured: %s is not set", EnvAWSEndpoint)
		return nil
	}
	a := &AWSEnv{Endpoint: strings.TrimRight(ep, "/"), Region: envOr(EnvAWSRegion, DefaultRegion)}
	if _, err := probeHTTP(a.Endpoint + "/"); err != nil {
		unavailable(t, "AWS emulator at %s does not answer: %v", a.Endpoint, err)
		return nil
	}
	return a
}

// Config returns an aws.Config for the emulator: its region, static (dummy) credentials and BaseEndpoint, so
// that any service client built from it (cloudwatch.NewFromConfig, sts.NewFromConfig, ...) talks to moto. Note that
// moto's CloudWatch needs the awsQuery protocol (see awscfg.UseQueryProtocol).
func (a *AWSEnv) Config(t testing.TB) aws.Config {
	t.Helper()
	return aws.Config{
		Region:       a.Region,
		Credentials:  staticCredentials(),
		BaseEndpoint: aws.String(a.Endpoint),
	}
}

// Kinesis returns a KinesisEnv addressing moto's Kinesis.
func (a *AWSEnv) Kinesis() *KinesisEnv {
	return &KinesisEnv{Endpoint: a.Endpoint, Region: a.Region}
}
