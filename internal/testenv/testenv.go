// Package testenv connects integration tests to the real services that scripts/local-env.sh runs: a Pulsar
// standalone with its functions worker, kinesalite (Kinesis) and moto (Kinesis, CloudWatch, STS).
//
// Every entry point (Pulsar, Kinesis, AWS) reads the addresses from the environment, as printed by
// `scripts/local-env.sh env`, and checks that the service answers. When a variable is missing or the service does
// not answer, the test is skipped, unless KS_REQUIRE_SERVICES=1 (set by `make test`): then it fails, so that CI
// cannot pass by skipping everything. In -short mode the entry points skip without looking, unless services are
// required.
//
// Typical use:
//
//	p := testenv.Pulsar(t)
//	topic := p.UniqueTopic(t, "in")
//	p.CreatePartitionedTopic(t, topic, 3)
//	k := testenv.Kinesis(t)
//	stream := k.UniqueStream(t, "out")
//	k.CreateStream(t, stream, 2)
//	...
//	recs := k.WaitForRecords(t, stream, 100, time.Minute)
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Environment variables read by this package. scripts/local-env.sh env prints all of them.
const (
	// EnvRequireServices set to "1" turns every "service unavailable" skip into a failure.
	EnvRequireServices = "KS_REQUIRE_SERVICES"
	// EnvPulsarHome is the Pulsar installation whose bin/pulsar-admin Admin runs.
	EnvPulsarHome = "PULSAR_HOME"
	// EnvPulsarServiceURL is the broker's binary-protocol URL, e.g. pulsar://127.0.0.1:6650.
	EnvPulsarServiceURL = "PULSAR_SERVICE_URL"
	// EnvPulsarWebURL is the broker's admin/REST URL (also the functions worker's), e.g. http://127.0.0.1:8080.
	EnvPulsarWebURL = "PULSAR_WEB_URL"
	// EnvKinesisEndpoint is kinesalite's URL, e.g. http://127.0.0.1:4567.
	EnvKinesisEndpoint = "KINESIS_ENDPOINT"
	// EnvAWSEndpoint is moto's URL, e.g. http://127.0.0.1:5000 (one port for every AWS service).
	EnvAWSEndpoint = "AWS_EMULATOR_ENDPOINT"
	// EnvAWSRegion is the region the emulators are addressed in; us-east-1 when unset.
	EnvAWSRegion = "AWS_REGION"
)

// DefaultRegion is used when AWS_REGION is unset.
const DefaultRegion = "us-east-1"

// Dummy credentials used when AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are unset: kinesalite only checks that a
// request is signed, moto accepts any key.
const (
	dummyAccessKeyID     = "AKIDLOCALENVTEST"
	dummySecretAccessKey = "local-env-dummy-secret"
)

// probeTimeout bounds each availability check, so a dead service costs a test seconds, not minutes.
const probeTimeout = 5 * time.Second

const upHint = `start them with scripts/local-env.sh up and eval "$(scripts/local-env.sh env)"`

// RequireServices reports whether KS_REQUIRE_SERVICES=1, i.e. whether a missing service fails the test instead of
// skipping it.
func RequireServices() bool { return os.Getenv(EnvRequireServices) == "1" }

// unavailable skips t, or fails it when services are required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireServices() {
		t.Fatalf("%s; %s=1 requires the services (%s)", msg, EnvRequireServices, upHint)
	}
	t.Skipf("%s; skipping (%s)", msg, upHint)
}

// skipShort skips integration tests in -short mode, unless services are required.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() && !RequireServices() {
		t.Skip("integration test: skipped in -short mode")
	}
}

// WaitFor polls cond until it returns true and fails t when timeout passes first. The failure message is msgf
// formatted with args, e.g. WaitFor(t, time.Minute, func() bool { ... }, "backlog of %s to drain", topic).
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msgf string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	// Short first intervals keep fast conditions fast; the cap keeps slow ones from hammering the services.
	interval := 50 * time.Millisecond
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, fmt.Sprintf(msgf, args...))
		}
		time.Sleep(interval)
		if interval < time.Second {
			interval *= 2
		}
	}
}

// randomSuffix returns n random bytes as hex.
func randomSuffix(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("testenv: crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// uniqueName builds "<prefix>-<random>" from the characters Pulsar topic and Kinesis stream names both allow; an
// empty prefix becomes the test's name, and the result is at most maxLen long.
func uniqueName(t testing.TB, prefix string, maxLen int) string {
	t.Helper()
	if prefix == "" {
		prefix = t.Name()
	}
	p := strings.Trim(nameUnsafe.ReplaceAllString(prefix, "-"), "-")
	if p == "" {
		p = "t"
	}
	suffix := randomSuffix(6)
	if limit := maxLen - len(suffix) - 1; len(p) > limit {
		p = p[:limit]
	}
	return p + "-" + suffix
}

// probeHTTP succeeds when url answers HTTP at all (any status) within probeTimeout.
func probeHTTP(url string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// probeTCP succeeds when something accepts a TCP connection at hostport.
func probeTCP(hostport string) error {
	c, err := net.DialTimeout("tcp", hostport, probeTimeout)
	if err != nil {
		return err
	}
	return c.Close()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
