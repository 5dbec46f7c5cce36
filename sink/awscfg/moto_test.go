package awscfg

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink/awscfg/awstest"
)

// These tests run against moto (AWS_EMULATOR_ENDPOINT) through
// awstest.Proxy, which records what moto cannot tell: the parameters of the
// AssumeRole calls, the key that signed each Kinesis and CloudWatch request,
// and it injects STS failures on demand.

const roleARN = "arn:aws:iam::123456789012:role/kinesis-writer"

// isolateAWSEnv removes every variable and file the default chain could
// pick up from the machine, so a test sees only what it sets.
func isolateAWSEnv(t *testing.T) {
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_CLOUDWATCH",
	} {
		t.Setenv(k, "") // restores the old value after the test
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// javaConfig is a sink config as a Java user writes it, with every endpoint
// pointing at the proxy.
func javaConfig(t *testing.T, endpoint, region, plugin, param string, extra ...any) *conf.Config {
	t.Helper()
	m := map[string]any{
		"awsRegion":                region,
		"awsKinesisStreamName":     "unused",
		"awsEndpoint":              endpoint,
		"awsStsEndpoint":           endpoint,
		"cloudwatchEndpoint":       endpoint,
		"awsCredentialPluginName":  plugin,
		"awsCredentialPluginParam": param,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	c, _, err := conf.FromMap(m, nil)
	if err != nil {
		t.Fatalf("config does not load: %v", err)
	}
	return c
}

func newClients(t *testing.T, c *conf.Config, o Options) *Clients {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cl, err := New(context.Background(), c, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// useKinesis creates a stream and writes to it, failing on any error.
func useKinesis(t *testing.T, cl *Clients) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := fmt.Sprintf("awscfg-%d", time.Now().UnixNano())
	if _, err := cl.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	putRecords(t, ctx, cl, stream)
	return stream
}

func putRecords(t *testing.T, ctx context.Context, cl *Clients, stream string) {
	t.Helper()
	out, err := cl.Kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: []types.PutRecordsRequestEntry{
		{Data: []byte("a"), PartitionKey: aws.String("k1")},
		{Data: []byte("b"), PartitionKey: aws.String("k2")},
	}})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords failed %d records", aws.ToInt32(out.FailedRecordCount))
	}
}

func useCloudWatch(t *testing.T, cl *Clients) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cl.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace:  aws.String("awscfg-test"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Probe"), Value: aws.Float64(1)}},
	})
	if err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
}

// checkSigners fails unless every Kinesis and CloudWatch call was signed by
// one of keys (and carried a session token iff withToken).
func checkSigners(t *testing.T, p *awstest.Proxy, withToken bool, keys ...string) {
	t.Helper()
	n := 0
	for _, c := range p.Calls() {
		if c.Service != "kinesis" && c.Service != "monitoring" {
			continue
		}
		n++
		ok := false
		for _, k := range keys {
			ok = ok || c.AccessKeyID == k
		}
		if !ok {
			t.Errorf("%s %s signed by %q, want one of %q", c.Service, c.Action, c.AccessKeyID, keys)
		}
		if (c.SessionToken != "") != withToken {
			t.Errorf("%s %s: session token present %v, want %v", c.Service, c.Action, c.SessionToken != "", withToken)
		}
	}
	if n == 0 {
		t.Error("no Kinesis or CloudWatch call recorded")
	}
}

// TestJavaCredentialConfigs: the three credential configurations of the
// Java sink's documentation work unchanged, each signing Kinesis and
// CloudWatch with the credentials it names.
func TestJavaCredentialConfigs(t *testing.T) {
	moto := testenv.AWS(t)
	isolateAWSEnv(t)
	p := awstest.New(t, moto.Endpoint)

	t.Run("static keys", func(t *testing.T) {
		p.Reset()
		c := javaConfig(t, p.URL, moto.Region, "", `{"accessKey":"AKIDJAVASTATIC","secretKey":"javasecret"}`)
		cl := newClients(t, c, Options{})
		useKinesis(t, cl)
		useCloudWatch(t, cl)
		checkSigners(t, p, false, "AKIDJAVASTATIC")
	})

	for _, plugin := range []string{conf.DefaultChainPlugin, conf.DefaultChainPluginLegacy, "default"} {
		t.Run("default chain "+plugin, func(t *testing.T) {
			p.Reset()
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
			// The Java plugin ignores its param: whatever it holds loads.
			for _, param := range []string{"", "{}", "not json at all"} {
				cl := newClients(t, javaConfig(t, p.URL, moto.Region, plugin, param), Options{})
				useKinesis(t, cl)
				useCloudWatch(t, cl)
			}
			checkSigners(t, p, false, "AKIDFROMENV")
		})
	}

	for _, plugin := range []string{conf.AssumeRolePlugin, conf.AssumeRolePluginLegacy} {
		t.Run("assume role "+plugin, func(t *testing.T) {
			p.Reset()
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBASEENV")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
			param := `{"roleArn":"` + roleARN + `","roleSessionName":"java-sink"}`
			cl := newClients(t, javaConfig(t, p.URL, moto.Region, plugin, param), Options{})
			useKinesis(t, cl)
			useCloudWatch(t, cl)
			calls := p.Find("sts", "AssumeRole")
			if len(calls) != 1 {
				t.Fatalf("%d AssumeRole calls, want 1", len(calls))
			}
			ar := calls[0]
			// No duration configured: STS's default hour, as the Java plugin gets.
			if ar.AccessKeyID != "AKIDBASEENV" || ar.Form.Get("RoleArn") != roleARN || ar.Form.Get("RoleSessionName") != "java-sink" ||
				ar.Form.Get("DurationSeconds") != "3600" || ar.Form.Has("ExternalId") || ar.IssuedAccessKeyID == "" {
				t.Errorf("AssumeRole call %+v", ar.Form)
			}
			checkSigners(t, p, true, ar.IssuedAccessKeyID)
		})
	}
}

// TestAssumeRoleParameters: the optional fields reach AssumeRole, the base
// keys from the param sign it, and the assumed keys sign the rest.
func TestAssumeRoleParameters(t *testing.T) {
	moto := testenv.AWS(t)
	isolateAWSEnv(t)
	p := awstest.New(t, moto.Endpoint)
	param := `{"roleArn":"` + roleARN + `","roleSessionName":"sink-7","externalId":"ext-42",
		"durationSeconds":"1800","policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]},
		"accessKey":"AKIDBASEPARAM","secretKey":"basesecret","sessionToken":"basetoken"}`
	cl := newClients(t, javaConfig(t, p.URL, moto.Region, "sts", param), Options{})
	useKinesis(t, cl)
	useCloudWatch(t, cl)

	calls := p.Find("sts", "AssumeRole")
	if len(calls) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", len(calls))
	}
	f := calls[0].Form
	want := map[string]string{
		"RoleArn": roleARN, "RoleSessionName": "sink-7", "ExternalId": "ext-42", "DurationSeconds": "1800",
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}`,
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("AssumeRole %s = %q, want %q", k, f.Get(k), v)
		}
	}
	if calls[0].AccessKeyID != "AKIDBASEPARAM" || calls[0].SessionToken != "basetoken" {
		t.Errorf("AssumeRole signed by %q (token %q), want the base keys of the param", calls[0].AccessKeyID, calls[0].SessionToken)
	}
	checkSigners(t, p, true, calls[0].IssuedAccessKeyID)
	if calls[0].IssuedAccessKeyID == "AKIDBASEPARAM" {
		t.Error("assumed key equals the base key")
	}
}

// TestAssumeRoleRenewsBeforeExpiry: STS will not issue sessions shorter
// than 900 s, so the expiry window is set to all but 2 s of the session:
// credentials must then be renewed every ~2 s, by the background refresher
// even when idle, and the Kinesis calls made meanwhile must all succeed,
// each signed by a key AssumeRole issued.
func TestAssumeRoleRenewsBeforeExpiry(t *testing.T) {
	moto := testenv.AWS(t)
	isolateAWSEnv(t)
	p := awstest.New(t, moto.Endpoint)
	param := `{"roleArn":"` + roleARN + `","roleSessionName":"renew","durationSeconds":900,"accessKey":"AKIDBASE","secretKey":"s"}`
	c := javaConfig(t, p.URL, moto.Region, conf.AssumeRolePlugin, param, "credentialsRefreshDelay", 200)
	cl := newClients(t, c, Options{CredentialsExpiryWindow: 898 * time.Second})
	stream := useKinesis(t, cl)

	// Idle: the refresher alone must renew (the time limits are generous
	// for a loaded machine; the expected pace is one renewal per ~2 s).
	testenv.WaitFor(t, 20*time.Second, func() bool { return len(p.Find("sts", "AssumeRole")) >= 3 },
		"two renewals without any request")

	// Busy: calls every 100 ms never fail across renewals.
	idle := len(p.Find("sts", "AssumeRole"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(p.Find("sts", "AssumeRole")) < idle+2 && ctx.Err() == nil {
		putRecords(t, ctx, cl, stream)
		time.Sleep(100 * time.Millisecond)
	}
	ars := p.Find("sts", "AssumeRole")
	if len(ars) < idle+2 {
		t.Errorf("%d AssumeRole calls while sending, want at least %d", len(ars), idle+2)
	}
	issued := map[string]bool{}
	for _, a := range ars {
		if a.Status != 200 || a.IssuedAccessKeyID == "" {
			t.Errorf("AssumeRole answered %d", a.Status)
		}
		issued[a.IssuedAccessKeyID] = true
	}
	used := map[string]bool{}
	for _, k := range p.Find("kinesis", "") {
		if !issued[k.AccessKeyID] {
			t.Errorf("Kinesis %s signed by %q, not a key AssumeRole issued", k.Action, k.AccessKeyID)
		}
		if k.Status != 200 {
			t.Errorf("Kinesis %s answered %d", k.Action, k.Status)
		}
		used[k.AccessKeyID] = true
	}
	if len(used) < 2 {
		t.Errorf("Kinesis calls used %d distinct keys across renewals, want several", len(used))
	}
	if n := cl.renewer.blockedCalls(); n != 1 {
		t.Errorf("%d credential reads waited for STS, want only the first", n)
	}
}

// TestRenewalFailureKeepsValidCredentials: when STS fails during the expiry
// window, the current (still valid) credentials keep signing and the
// renewal is retried; when STS is back, new keys are used.
func TestRenewalFailureKeepsValidCredentials(t *testing.T) {
	moto := testenv.AWS(t)
	isolateAWSEnv(t)
	p := awstest.New(t, moto.Endpoint)
	param := `{"roleArn":"` + roleARN + `","roleSessionName":"outage","durationSeconds":900,"accessKey":"AKIDBASE","secretKey":"s"}`
	c := javaConfig(t, p.URL, moto.Region, conf.AssumeRolePlugin, param, "credentialsRefreshDelay", 200)
	cl := newClients(t, c, Options{CredentialsExpiryWindow: 898 * time.Second})
	stream := useKinesis(t, cl)

	var mu sync.Mutex
	down := true
	p.SetFault(func(c *awstest.Call) (int, string) {
		mu.Lock()
		out := down
		mu.Unlock()
		if out && c.Service == "sts" {
			// A slow failure, as when STS times out: a request that
			// waited for the renewal would take seconds.
			time.Sleep(time.Second)
			return 503, "ServiceUnavailable"
		}
		return 0, ""
	})
	// A renewal may have been in flight when the fault was set.
	time.Sleep(300 * time.Millisecond)
	var current string
	for _, a := range p.Find("sts", "AssumeRole") {
		if a.Status == 200 {
			current = a.IssuedAccessKeyID
		}
	}
	p.Reset()
	blockedBefore := cl.renewer.blockedCalls()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Send until renewals have failed for a while.
	var slowest time.Duration
	for len(p.Find("sts", "AssumeRole")) < 3 && ctx.Err() == nil {
		start := time.Now()
		putRecords(t, ctx, cl, stream)
		slowest = max(slowest, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(p.Find("sts", "AssumeRole")); n < 3 {
		t.Fatalf("only %d renewal attempts during the STS outage", n)
	}
	t.Logf("slowest PutRecords during the STS outage: %s", slowest)
	if n := cl.renewer.blockedCalls() - blockedBefore; n != 0 {
		t.Errorf("%d credential reads waited for the failing STS, want none", n)
	}
	for _, k := range p.Find("kinesis", "") {
		if k.AccessKeyID != current || k.Status != 200 {
			t.Errorf("during the outage Kinesis was signed by %q (status %d), want the still-valid %q", k.AccessKeyID, k.Status, current)
		}
	}

	mu.Lock()
	down = false
	mu.Unlock()
	// Once STS answers again, new keys take over.
	testenv.WaitFor(t, 30*time.Second, func() bool {
		putRecords(t, ctx, cl, stream)
		calls := p.Find("kinesis", "PutRecords")
		return calls[len(calls)-1].AccessKeyID != current
	}, "Kinesis calls signed by renewed credentials after the outage")
}

// TestAssumeRoleFailsAtOpen: a refused AssumeRole fails New with one line.
func TestAssumeRoleFailsAtOpen(t *testing.T) {
	moto := testenv.AWS(t)
	isolateAWSEnv(t)
	p := awstest.New(t, moto.Endpoint)
	p.SetFault(func(c *awstest.Call) (int, string) {
		if c.Action == "AssumeRole" {
			return 403, "AccessDenied"
		}
		return 0, ""
	})
	param := `{"roleArn":"` + roleARN + `","roleSessionName":"denied","accessKey":"AKIDBASE","secretKey":"` + secretSK + `"}`
	_, err := New(context.Background(), javaConfig(t, p.URL, moto.Region, "sts", param), Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("New succeeded although AssumeRole is denied")
	}
	msg := err.Error()
	if !strings.Contains(msg, "AccessDenied") || !strings.Contains(msg, "assume role") || !strings.Contains(msg, roleARN) ||
		!strings.Contains(msg, "sts:AssumeRole") || strings.ContainsAny(msg, "\n\r") || strings.Contains(msg, secretSK) {
		t.Errorf("error %q", msg)
	}
}

// TestWebIdentity: the default chain picks up EKS IRSA's environment
// (token file and role), exchanging the token with STS.
func TestWebIdentity(t *testing.T) {
	moto := testenv.AWS(t)
	isolateAWSEnv(t)
	p := awstest.New(t, moto.Endpoint)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", roleARN)
	t.Setenv("AWS_ROLE_SESSION_NAME", "irsa-pod")
	// As on EKS with an STS VPC endpoint; the SDK reads it.
	t.Setenv("AWS_ENDPOINT_URL_STS", p.URL)
	cl := newClients(t, javaConfig(t, p.URL, moto.Region, conf.DefaultChainPlugin, ""), Options{})
	useKinesis(t, cl)
	calls := p.Find("", "AssumeRoleWithWebIdentity")
	if len(calls) != 1 {
		t.Fatalf("%d AssumeRoleWithWebIdentity calls, want 1", len(calls))
	}
	if calls[0].Form.Get("RoleArn") != roleARN || calls[0].Form.Get("RoleSessionName") != "irsa-pod" {
		t.Errorf("AssumeRoleWithWebIdentity %v", calls[0].Form)
	}
	checkSigners(t, p, true, calls[0].IssuedAccessKeyID)
}
