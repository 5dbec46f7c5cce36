package testenv

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SecurePulsar is a Pulsar standalone of the test's own, started with token authentication and broker TLS.
type SecurePulsar struct {
	*PulsarEnv
	// TLSServiceURL is pulsar+ssl://127.0.0.1:<port>, served with a self-signed certificate.
	TLSServiceURL string
	// CertFile is that certificate (PEM), the only way to trust it.
	CertFile string
}

// StartSecurePulsar starts a second Pulsar standalone with scripts/local-env.sh (KS_PULSAR_AUTH=token and
// KS_PULSAR_TLS_PORT) in a state directory and on ports of its own, sharing the install cache, and stops it when the
// test ends. The shared standalone is never touched. Env.Token is the super-user token. A standalone takes tens of
// seconds to start: use one per test package run, not one per test.
//
// It skips in -short mode and when Pulsar is not installed, unless KS_REQUIRE_SERVICES=1 (then it fails).
func StartSecurePulsar(t testing.TB) *SecurePulsar {
	t.Helper()
	skipShort(t)
	script, err := findScript("scripts/local-env.sh")
	if err != nil {
		unavailable(t, "%v", err)
		return nil
	}
	state, err := os.MkdirTemp("", "ks-secure-pulsar-")
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 4)
	env := []string{
		"KS_STATE_DIR=" + state,
		"KS_PULSAR_BROKER_PORT=" + strconv.Itoa(ports[0]),
		"KS_PULSAR_WEB_PORT=" + strconv.Itoa(ports[1]),
		"KS_PULSAR_BOOKIE_PORT=" + strconv.Itoa(ports[2]),
		"KS_PULSAR_TLS_PORT=" + strconv.Itoa(ports[3]),
		"KS_PULSAR_AUTH=token",
		// A second JVM beside the shared one: keep it small.
		"KS_PULSAR_MEM=-Xms256m -Xmx512m -XX:MaxDirectMemorySize=512m",
	}
	run := func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.Env = append(withoutVars(os.Environ(), "KS_STATE_DIR", "KS_PULSAR_", "KS_EXTERNAL_PULSAR"), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := run(ctx, "down", "pulsar"); err != nil {
			t.Logf("stopping the secure Pulsar: %v\n%s", err, out)
			return
		}
		os.RemoveAll(state)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if out, err := run(ctx, "up", "pulsar"); err != nil {
		unavailable(t, "could not start a Pulsar with token authentication and TLS: %v\n%s", err, out)
		return nil
	}
	out, err := run(ctx, "env")
	if err != nil {
		t.Fatalf("local-env.sh env: %v\n%s", err, out)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			vars[k] = strings.Trim(v, `'`)
		}
	}
	sp := &SecurePulsar{
		PulsarEnv: &PulsarEnv{ServiceURL: vars["PULSAR_SERVICE_URL"], WebURL: vars["PULSAR_WEB_URL"],
			Home: vars["PULSAR_HOME"], Token: vars["PULSAR_AUTH_TOKEN"]},
		TLSServiceURL: vars["PULSAR_TLS_SERVICE_URL"],
		CertFile:      vars["PULSAR_TLS_CERT"],
	}
	if sp.Token == "" || sp.TLSServiceURL == "" || sp.CertFile == "" {
		t.Fatalf("local-env.sh env printed no token, TLS URL or certificate:\n%s", out)
	}
	return sp
}

// findScript looks for rel in the working directory and its parents (tests run in their package directory).
func findScript(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// withoutVars drops the variables named exactly, or starting with a name ending in "_".
func withoutVars(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		for _, n := range names {
			if k == n || (strings.HasSuffix(n, "_") && strings.HasPrefix(k, n)) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
