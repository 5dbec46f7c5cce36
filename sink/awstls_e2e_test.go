package sink_test

// TLS certificate verification for Kinesis, STS and CloudWatch through the
// real binary: kinesalite and moto behind a TLS front of ours with a
// self-signed certificate (neither emulator serves TLS the way AWS does for
// all three services, and the front shows exactly what a client trusting
// the system roots sees). Refused by default with a clear error; accepted
// with skipCertificateValidation, which logs a warning.

import (
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// tlsFront serves HTTPS with httptest's self-signed certificate (valid for
// 127.0.0.1, trusted by nobody) and forwards every request to target.
func tlsFront(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(u))
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

const certErr = "certificate signed by unknown authority"

func TestAWSCertificateVerification(t *testing.T) {
	env := testenv.Pulsar(t)
	ks := testenv.Kinesis(t)
	moto := testenv.AWS(t)
	kinesisTLS := tlsFront(t, ks.Endpoint)
	motoTLS := tlsFront(t, moto.Endpoint)
	client := e2e.NewClient(t, env)
	assumeRole := map[string]any{
		"awsCredentialPluginName":  "org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin",
		"awsCredentialPluginParam": `{"roleArn":"arn:aws:iam::123456789012:role/kinesis-writer","roleSessionName":"tls","accessKey":"AKIDTLS","secretKey":"tls-secret-value"}`,
		"awsStsEndpoint":           motoTLS,
	}
	cloudwatch := map[string]any{"cloudwatchEndpoint": motoTLS, "metricsLevel": "summary", "metricsUploadDelayInMillis": 1000,
		"metricsNamespace": fmt.Sprintf("KinesisSinkTLS%d", time.Now().UnixNano()%1e9)}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}

	t.Run("Kinesis and CloudWatch refused by default", func(t *testing.T) {
		stream := ks.UniqueStream(t, "tls")
		ks.CreateStream(t, stream, 1)
		topic := env.UniqueTopic(t, "tls")
		in, _, mport := startSinkWithMetrics(t, env, uniqueName(t, "tls-default"), []string{topic},
			sinkConfig(kinesisTLS, stream, cloudwatch))
		e2e.Produce(t, client, topic, 3, func(i int) string { return fmt.Sprintf("tls-%d", i) })
		env.WaitFor(t, 60*time.Second, func() bool {
			if !in.Running() {
				t.Fatalf("instance exited: %v\n%s", in.Err, in.Output())
			}
			return metricValue(t, mport, "kinesis_sink_cloudwatch_publish_failures_total") > 0 &&
				strings.Contains(in.Output(), "kinesis stream not usable")
		}, "a refused Kinesis call and a refused CloudWatch upload")
		out := in.Output()
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "kinesis stream not usable") || strings.Contains(strings.ToLower(line), "cloudwatch") && strings.Contains(line, "level=WARN") {
				if !strings.Contains(line, certErr) {
					t.Errorf("refusal does not say why: %s", line)
				}
			}
		}
		if !strings.Contains(out, certErr) {
			t.Errorf("no certificate error in the output:\n%s", e2e.Tail(out, 3000))
		}
		if n := len(ks.ReadAll(t, stream)); n != 0 {
			t.Errorf("%d records reached Kinesis through an untrusted endpoint", n)
		}
		if strings.Contains(out, "skipCertificateValidation is set") {
			t.Error("the insecure-mode warning appeared without the setting")
		}
	})

	t.Run("STS refused by default", func(t *testing.T) {
		stream := ks.UniqueStream(t, "tls")
		in, _, _ := startSinkWithMetrics(t, env, uniqueName(t, "tls-sts"), []string{env.UniqueTopic(t, "tls")},
			sinkConfig(ks.Endpoint, stream, assumeRole))
		select {
		case <-in.Done:
		case <-time.After(60 * time.Second):
			t.Fatal("instance still running with an untrusted STS endpoint")
		}
		out := strings.TrimSpace(in.Output())
		last := out[strings.LastIndex(out, "\n")+1:]
		if in.Err == nil || !strings.Contains(last, certErr) || !strings.Contains(last, "AssumeRole") {
			t.Errorf("exit %v, last line %q: want a failure naming AssumeRole and the certificate", in.Err, last)
		}
		if strings.Contains(out, "tls-secret-value") {
			t.Error("the secret key is in the output")
		}
	})

	t.Run("all three accepted with skipCertificateValidation", func(t *testing.T) {
		stream := ks.UniqueStream(t, "tls")
		ks.CreateStream(t, stream, 1)
		topic := env.UniqueTopic(t, "tls")
		name := uniqueName(t, "tls-skip")
		in, _, mport := startSinkWithMetrics(t, env, name, []string{topic},
			sinkConfig(kinesisTLS, stream, merge(assumeRole, cloudwatch, map[string]any{"skipCertificateValidation": true})))
		env.WaitFor(t, 60*time.Second, func() bool {
			if !in.Running() {
				t.Fatalf("instance exited: %v", in.Err)
			}
			return e2e.HasSubscription(t, env, topic, "public/default/"+name)
		}, "subscription")
		e2e.Produce(t, client, topic, 10, func(i int) string { return fmt.Sprintf("tls-ok-%d", i) })
		if recs := ks.WaitForRecords(t, stream, 10, 60*time.Second); distinct(recs) != 10 {
			t.Fatalf("kinesis has %d distinct records, want 10", distinct(recs))
		}
		env.WaitFor(t, 60*time.Second, func() bool {
			return metricValue(t, mport, "kinesis_sink_cloudwatch_datums_published_total") > 0
		}, "a CloudWatch upload through the TLS front")
		out := in.Output()
		if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "skipCertificateValidation is set") {
			t.Errorf("no warning about skipCertificateValidation:\n%s", e2e.Tail(out, 2000))
		}
		if strings.Contains(out, certErr) {
			t.Errorf("a certificate error with skipCertificateValidation:\n%s", e2e.Tail(out, 2000))
		}
	})
}
