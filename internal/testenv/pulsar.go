package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
)

// PulsarEnv is a running Pulsar (broker, bookie and functions worker).
type PulsarEnv struct {
	// ServiceURL is the binary-protocol URL for clients, e.g. pulsar://127.0.0.1:6650.
	ServiceURL string
	// WebURL is the admin/REST URL without a trailing slash, e.g. http://127.0.0.1:8080.
	WebURL string
	// Home is the Pulsar installation (for bin/pulsar-admin); empty when PULSAR_HOME is unset.
	Home string
	// Token, when set, authenticates AdminREST and Client (a KS_PULSAR_AUTH=token copy).
	Token string
}

// adminTimeout bounds one admin REST call; pulsarAdminTimeout one pulsar-admin run (a JVM start included).
const (
	adminTimeout       = 30 * time.Second
	pulsarAdminTimeout = 3 * time.Minute
)

// Pulsar returns the Pulsar named by PULSAR_SERVICE_URL / PULSAR_WEB_URL (and PULSAR_HOME), after checking that
// its admin API and broker port answer. It skips t (fails it under KS_REQUIRE_SERVICES=1) otherwise.
func Pulsar(t testing.TB) *PulsarEnv {
	t.Helper()
	skipShort(t)
	svc, web := os.Getenv(EnvPulsarServiceURL), os.Getenv(EnvPulsarWebURL)
	if svc == "" || web == "" {
		unavailable(t, "Pulsar not configured: %s and %s must both be set", EnvPulsarServiceURL, EnvPulsarWebURL)
		return nil
	}
	p := &PulsarEnv{ServiceURL: svc, WebURL: strings.TrimRight(web, "/"), Home: os.Getenv(EnvPulsarHome)}
	if err := p.probe(); err != nil {
		unavailable(t, "Pulsar does not answer: %v", err)
		return nil
	}
	return p
}

func (p *PulsarEnv) probe() error {
	code, err := probeHTTP(p.WebURL + "/admin/v2/clusters")
	if err != nil {
		return fmt.Errorf("GET %s/admin/v2/clusters: %w", p.WebURL, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s/admin/v2/clusters: HTTP %d", p.WebURL, code)
	}
	u, err := url.Parse(p.ServiceURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s=%q is not a pulsar://host:port URL", EnvPulsarServiceURL, p.ServiceURL)
	}
	if err := probeTCP(u.Host); err != nil {
		return fmt.Errorf("broker %s: %w", p.ServiceURL, err)
	}
	return nil
}

// UniqueTopic returns persistent://public/default/<prefix>-<random>, a name no other test uses. The topic is not
// created.
func (p *PulsarEnv) UniqueTopic(t testing.TB, prefix string) string {
	t.Helper()
	return "persistent://public/default/" + uniqueName(t, prefix, 200)
}

// topicPath turns a topic name into its admin REST path, e.g. persistent://public/default/a ->
// persistent/public/default/a. A bare local name means persistent://public/default/<name>.
func topicPath(topic string) (string, error) {
	domain, rest, ok := strings.Cut(topic, "://")
	if !ok {
		if strings.Contains(topic, "/") || topic == "" {
			return "", fmt.Errorf("topic %q: want persistent://tenant/namespace/name or a bare name", topic)
		}
		domain, rest = "persistent", "public/default/"+topic
	}
	if domain != "persistent" && domain != "non-persistent" {
		return "", fmt.Errorf("topic %q: domain %q; allowed: persistent, non-persistent", topic, domain)
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("topic %q: want %s://tenant/namespace/name", topic, domain)
	}
	return domain + "/" + parts[0] + "/" + parts[1] + "/" + url.PathEscape(parts[2]), nil
}

// AdminREST sends one admin REST request (path relative to WebURL, e.g. "/admin/v2/clusters"; body marshalled as
// JSON unless nil) and returns the status code and response body. Any status is returned without error; err is
// for transport failures only.
func (p *PulsarEnv) AdminREST(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.WebURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// adminOK runs an admin REST request and fails t unless the status is one of want.
func (p *PulsarEnv) adminOK(t testing.TB, method, path string, body any, want ...int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	code, out, err := p.AdminREST(ctx, method, path, body)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, p.WebURL, path, err)
	}
	for _, w := range want {
		if code == w {
			return out
		}
	}
	t.Fatalf("%s %s%s: HTTP %d: %s", method, p.WebURL, path, code, strings.TrimSpace(string(out)))
	return nil
}

func mustTopicPath(t testing.TB, topic string) string {
	t.Helper()
	tp, err := topicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// CreateTopic creates a non-partitioned topic through the admin API and deletes it (forcefully, best effort) when
// the test ends.
func (p *PulsarEnv) CreateTopic(t testing.TB, topic string) {
	t.Helper()
	tp := mustTopicPath(t, topic)
	p.adminOK(t, http.MethodPut, "/admin/v2/"+tp, nil, http.StatusNoContent, http.StatusOK)
	t.Cleanup(func() { p.bestEffortDelete(t, "/admin/v2/"+tp+"?force=true") })
}

// CreatePartitionedTopic creates a topic with the given number of partitions through the admin API and deletes it
// (forcefully, best effort) when the test ends.
func (p *PulsarEnv) CreatePartitionedTopic(t testing.TB, topic string, partitions int) {
	t.Helper()
	if partitions < 1 {
		t.Fatalf("CreatePartitionedTopic(%q): partitions=%d; want >= 1", topic, partitions)
	}
	tp := mustTopicPath(t, topic)
	p.adminOK(t, http.MethodPut, "/admin/v2/"+tp+"/partitions", partitions, http.StatusNoContent, http.StatusOK)
	t.Cleanup(func() { p.bestEffortDelete(t, "/admin/v2/"+tp+"/partitions?force=true") })
}

// CreateSubscription creates a durable subscription positioned at the earliest message (on every partition of a
// partitioned topic), so that its backlog counts everything published to the topic.
func (p *PulsarEnv) CreateSubscription(t testing.TB, topic, subscription string) {
	t.Helper()
	tp := mustTopicPath(t, topic)
	// (-1, -1) is Pulsar's MessageId.earliest.
	earliest := map[string]int64{"ledgerId": -1, "entryId": -1}
	p.adminOK(t, http.MethodPut, "/admin/v2/"+tp+"/subscription/"+url.PathEscape(subscription), earliest,
		http.StatusNoContent, http.StatusOK)
}

func (p *PulsarEnv) bestEffortDelete(t testing.TB, path string) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	code, out, err := p.AdminREST(ctx, http.MethodDelete, path, nil)
	switch {
	case err != nil:
		t.Logf("cleanup: DELETE %s: %v", path, err)
	case code >= 300 && code != http.StatusNotFound:
		t.Logf("cleanup: DELETE %s: HTTP %d: %s", path, code, strings.TrimSpace(string(out)))
	}
}

// Partitions returns the number of partitions of topic: 0 for a non-partitioned (or missing) topic.
func (p *PulsarEnv) Partitions(ctx context.Context, topic string) (int, error) {
	tp, err := topicPath(topic)
	if err != nil {
		return 0, err
	}
	code, out, err := p.AdminREST(ctx, http.MethodGet, "/admin/v2/"+tp+"/partitions", nil)
	if err != nil {
		return 0, err
	}
	if code == http.StatusNotFound {
		return 0, nil
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("partitions of %s: HTTP %d: %s", topic, code, strings.TrimSpace(string(out)))
	}
	var meta struct {
		Partitions int `json:"partitions"`
	}
	if err := json.Unmarshal(out, &meta); err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	return meta.Partitions, nil
}

type topicStats struct {
	Subscriptions map[string]struct {
		MsgBacklog int64      `json:"msgBacklog"`
		Consumers  []struct{} `json:"consumers"`
		Type       string     `json:"type"`
	} `json:"subscriptions"`
}

// ErrNoSubscription is returned by BacklogOf when the subscription does not exist on the topic (on any partition).
var ErrNoSubscription = errors.New("subscription not found")

// BacklogOf returns the subscription's backlog on topic, summed over the partitions of a partitioned topic. It is
// Backlog for polling loops: errors are returned, not fatal. Pulsar counts backlog in entries: a batch sent by a
// batching producer counts once, so tests that compare it with a message count should disable batching.
func (p *PulsarEnv) BacklogOf(ctx context.Context, topic, subscription string) (int64, error) {
	backlog, _, _, err := p.subscriptionStats(ctx, topic, subscription)
	return backlog, err
}

// ConsumersOf returns how many consumers the subscription has on topic,
// summed over the partitions of a partitioned topic.
func (p *PulsarEnv) ConsumersOf(ctx context.Context, topic, subscription string) (int, error) {
	_, consumers, _, err := p.subscriptionStats(ctx, topic, subscription)
	return consumers, err
}

// WaitSubscriptionType waits until the broker reports the subscription's
// type as want (Shared, Failover, Key_Shared, Exclusive; it reports one
// while the subscription has consumers, and the partitions' types joined by
// "," where they differ), logging what it reports meanwhile.
func (p *PulsarEnv) WaitSubscriptionType(t testing.TB, timeout time.Duration, topic, subscription, want string) {
	t.Helper()
	p.WaitFor(t, timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _, got, err := p.subscriptionStats(ctx, topic, subscription)
		if got != want {
			t.Logf("subscription type %q (%v), want %s", got, err, want)
		}
		return got == want
	}, "the broker to report subscription %s of %s as %s", subscription, topic, want)
}

func (p *PulsarEnv) subscriptionStats(ctx context.Context, topic, subscription string) (backlog int64, consumers int, types string, err error) {
	tp, err := topicPath(topic)
	if err != nil {
		return 0, 0, "", err
	}
	n, err := p.Partitions(ctx, topic)
	if err != nil {
		return 0, 0, "", err
	}
	var parts []topicStats
	if n > 0 {
		code, out, err := p.AdminREST(ctx, http.MethodGet, "/admin/v2/"+tp+"/partitioned-stats?perPartition=true", nil)
		if err != nil {
			return 0, 0, "", err
		}
		if code != http.StatusOK {
			return 0, 0, "", fmt.Errorf("partitioned-stats of %s: HTTP %d: %s", topic, code, strings.TrimSpace(string(out)))
		}
		var ps struct {
			Partitions map[string]topicStats `json:"partitions"`
		}
		if err := json.Unmarshal(out, &ps); err != nil {
			return 0, 0, "", fmt.Errorf("partitioned-stats of %s: %w", topic, err)
		}
		if len(ps.Partitions) != n {
			return 0, 0, "", fmt.Errorf("partitioned-stats of %s: stats for %d of %d partitions", topic, len(ps.Partitions), n)
		}
		for _, s := range ps.Partitions {
			parts = append(parts, s)
		}
	} else {
		code, out, err := p.AdminREST(ctx, http.MethodGet, "/admin/v2/"+tp+"/stats", nil)
		if err != nil {
			return 0, 0, "", err
		}
		if code != http.StatusOK {
			return 0, 0, "", fmt.Errorf("stats of %s: HTTP %d: %s", topic, code, strings.TrimSpace(string(out)))
		}
		var s topicStats
		if err := json.Unmarshal(out, &s); err != nil {
			return 0, 0, "", fmt.Errorf("stats of %s: %w", topic, err)
		}
		parts = append(parts, s)
	}
	found := false
	var seen []string
	for _, s := range parts {
		if sub, ok := s.Subscriptions[subscription]; ok {
			found = true
			backlog += sub.MsgBacklog
			consumers += len(sub.Consumers)
			if sub.Type != "" && !slices.Contains(seen, sub.Type) {
				seen = append(seen, sub.Type)
			}
		}
	}
	if !found {
		return 0, 0, "", fmt.Errorf("backlog of %q on %s: %w", subscription, topic, ErrNoSubscription)
	}
	slices.Sort(seen)
	return backlog, consumers, strings.Join(seen, ","), nil
}

// Backlog returns the subscription's backlog on topic (summed over partitions), failing t on any error, including
// a subscription that does not exist. See BacklogOf for what is counted.
func (p *PulsarEnv) Backlog(t testing.TB, topic, subscription string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	n, err := p.BacklogOf(ctx, topic, subscription)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Admin runs $PULSAR_HOME/bin/pulsar-admin --admin-url <WebURL> args... and returns its combined output. A non-zero
// exit is returned as err (with the output still returned), so tests can assert on expected failures. Without
// PULSAR_HOME the test is skipped (failed under KS_REQUIRE_SERVICES=1).
func (p *PulsarEnv) Admin(t testing.TB, args ...string) (string, error) {
	t.Helper()
	if p.Home == "" {
		unavailable(t, "%s is not set, so pulsar-admin cannot be run", EnvPulsarHome)
		return "", errors.New("PULSAR_HOME not set")
	}
	bin := filepath.Join(p.Home, "bin", "pulsar-admin")
	ctx, cancel := context.WithTimeout(context.Background(), pulsarAdminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--admin-url", p.WebURL}, args...)...)
	// A CLI run is over long before the JIT's optimising tier pays off; C1 only and the serial GC halve its CPU
	// time, which matters on a 2-core machine shared with the broker.
	cmd.Env = append(os.Environ(),
		"PULSAR_EXTRA_OPTS="+strings.TrimSpace(os.Getenv("PULSAR_EXTRA_OPTS")+" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %s: %w", pulsarAdminTimeout, err)
		}
		return string(out), fmt.Errorf("pulsar-admin %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// WaitFor polls cond until it is true; see the package-level WaitFor.
func (p *PulsarEnv) WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msgf string, args ...any) {
	t.Helper()
	WaitFor(t, timeout, cond, msgf, args...)
}

// Client returns a pulsar-client-go client for ServiceURL that logs warnings and errors only, closed when the test
// ends.
func (p *PulsarEnv) Client(t testing.TB) pulsar.Client {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := pulsar.ClientOptions{
		URL:               p.ServiceURL,
		OperationTimeout:  30 * time.Second,
		ConnectionTimeout: 10 * time.Second,
		Logger:            pulsarlog.NewLoggerWithSlog(logger),
	}
	if p.Token != "" {
		opts.Authentication = pulsar.NewAuthenticationToken(p.Token)
	}
	c, err := pulsar.NewClient(opts)
	if err != nil {
		t.Fatalf("pulsar client for %s: %v", p.ServiceURL, err)
	}
	t.Cleanup(c.Close)
	return c
}
