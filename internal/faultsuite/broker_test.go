package faultsuite

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// ownPulsar is a Pulsar standalone started for the broker-restart scenario
// with scripts/local-env.sh, in a state directory and on ports of its own:
// restarting the Pulsar that other tests (or other people) use would break
// them, and this copy starts in about 20 s from the shared installation.
type ownPulsar struct {
	env     *testenv.PulsarEnv
	script  string
	base    []string // environment of every local-env.sh call
	logPath string
}

func startOwnPulsar(t *testing.T, logDir string) *ownPulsar {
	t.Helper()
	root := repoRoot(t)
	cache := os.Getenv("KS_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(root, ".cache")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	state := filepath.Join(os.TempDir(), "ks-faults-pulsar-"+hex.EncodeToString(b))
	broker, web, bookie := e2e.FreePort(t), e2e.FreePort(t), e2e.FreePort(t)
	o := &ownPulsar{
		script: filepath.Join(root, "scripts", "local-env.sh"),
		base: append(os.Environ(),
			"KS_STATE_DIR="+state, "KS_CACHE_DIR="+cache, "KS_EXTERNAL_PULSAR=0",
			"KS_PULSAR_BROKER_PORT="+strconv.Itoa(broker), "KS_PULSAR_WEB_PORT="+strconv.Itoa(web),
			"KS_PULSAR_BOOKIE_PORT="+strconv.Itoa(bookie),
			// Unused (only pulsar is started) but recorded: keep them off the shared ports.
			"KS_KINESALITE_PORT="+strconv.Itoa(e2e.FreePort(t)), "KS_MOTO_PORT="+strconv.Itoa(e2e.FreePort(t))),
		logPath: filepath.Join(logDir, "broker-restart-local-env.log"),
	}
	t.Cleanup(func() {
		if err := o.localEnv("down", "pulsar"); err != nil {
			t.Errorf("stop the scenario's Pulsar: %v", err)
		}
		if os.Getenv("KS_FAULTS_KEEP_PULSAR") != "1" { // kept for a post-mortem
			_ = os.RemoveAll(state)
		}
	})
	if err := o.localEnv("up", "pulsar"); err != nil {
		t.Fatalf("start a Pulsar for the broker-restart scenario: %v (see %s)", err, o.logPath)
	}
	o.env = &testenv.PulsarEnv{
		ServiceURL: fmt.Sprintf("pulsar://127.0.0.1:%d", broker),
		WebURL:     fmt.Sprintf("http://127.0.0.1:%d", web),
		Home:       filepath.Join(cache, "pulsar", "apache-pulsar-4.0.8"),
	}
	return o
}

// localEnv runs scripts/local-env.sh for this copy, its output appended to
// the scenario's log.
func (o *ownPulsar) localEnv(args ...string) error {
	return o.localEnvWith(nil, args...)
}

func (o *ownPulsar) localEnvWith(extra []string, args ...string) error {
	f, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "== %s local-env.sh %v\n", time.Now().UTC().Format(time.RFC3339), args)
	cmd := exec.Command(o.script, args...)
	// KS_PULSAR_KEEP_DATA=0 unless asked: a fresh copy starts empty.
	cmd.Env = append(append(o.base, "KS_PULSAR_KEEP_DATA=0"), extra...)
	cmd.Stdout, cmd.Stderr = f, f
	return cmd.Run()
}

// restart stops the broker (SIGTERM, as an operator or Kubernetes would)
// and starts it again on the same data.
func (o *ownPulsar) restart() (down, up time.Duration, err error) {
	t0 := time.Now()
	if err := o.localEnv("down", "pulsar"); err != nil {
		return 0, 0, fmt.Errorf("stop: %w", err)
	}
	down = time.Since(t0)
	t1 := time.Now()
	if err := o.localEnvWith([]string{"KS_PULSAR_KEEP_DATA=1"}, "up", "pulsar"); err != nil {
		return down, 0, fmt.Errorf("start: %w", err)
	}
	return down, time.Since(t1), nil
}
