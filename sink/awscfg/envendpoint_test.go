package awscfg

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

func TestEndpointFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		configured string
		want, from string
		err        string
	}{
		{name: "nothing set", want: "", from: ""},
		{name: "the service's own variable", env: map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:4567", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
			want: "http://127.0.0.1:4567", from: "AWS_ENDPOINT_URL_KINESIS"},
		{name: "the general variable", env: map[string]string{"AWS_ENDPOINT_URL": " https://vpce.example:443 "},
			want: "https://vpce.example:443", from: "AWS_ENDPOINT_URL"},
		{name: "the config wins", env: map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:4567"}, configured: "http://127.0.0.1:9",
			want: "http://127.0.0.1:9"},
		{name: "ignored on request", env: map[string]string{"AWS_ENDPOINT_URL_KINESIS": "http://127.0.0.1:4567", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}},
		{name: "no scheme", env: map[string]string{"AWS_ENDPOINT_URL_KINESIS": "127.0.0.1:4567"},
			err: `AWS_ENDPOINT_URL_KINESIS="127.0.0.1:4567": must be an http:// or https:// URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := endpointFromEnv(func(k string) string { return tc.env[k] }, tc.configured, "KINESIS")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || from != tc.from {
				t.Fatalf("got %q from %q (%v), want %q from %q", got, from, err, tc.want, tc.from)
			}
		})
	}
}

// TestNewTakesEndpointsFromEnv: the clients New builds use the environment's
// endpoints where the config names none, CloudWatch with the query protocol
// an emulator needs.
func TestNewTakesEndpointsFromEnv(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4567")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")
	c := conf.Default()
	c.AWSRegion = "us-east-1"
	c.AWSCredentialPluginParam = `{"accessKey":"a","secretKey":"b"}`
	cl, err := New(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := aws.ToString(cl.Kinesis.Options().BaseEndpoint); got != "http://127.0.0.1:4567" {
		t.Errorf("Kinesis endpoint %q", got)
	}
	if got := aws.ToString(cl.CloudWatch.Options().BaseEndpoint); got != "http://127.0.0.1:5000" {
		t.Errorf("CloudWatch endpoint %q", got)
	}
	if cl.CloudWatch.Options().Protocol == nil {
		t.Error("CloudWatch at an emulator's address without the query protocol")
	}

	c.AWSEndpoint = "http://127.0.0.1:9"
	cl2, err := New(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if got := aws.ToString(cl2.Kinesis.Options().BaseEndpoint); got != "http://127.0.0.1:9" {
		t.Errorf("awsEndpoint lost to the environment: %q", got)
	}

	c.AWSEndpoint = ""
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", "localhost:4567")
	if _, err := New(context.Background(), c, Options{}); err == nil || !strings.Contains(err.Error(), "AWS_ENDPOINT_URL_KINESIS") {
		t.Errorf("a URL without scheme: %v", err)
	}
}
