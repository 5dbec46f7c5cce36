package doctest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

// docFiles are the documents whose shell blocks a user runs, from the
// repository root.
var docFiles = []string{"README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", "docs/*.md", "packaging/*.md", "packaging/*/*.md"}

// block is one shell block of a document.
type block struct {
	file    string // relative to the repository root
	line    int    // of the opening fence
	script  string
	run     bool
	cleanup string
	check   string // a name in checks
	reason  string // of a skip
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var (
	fenceRE  = regexp.MustCompile("^\\s*```(sh|bash|shell|console)\\s*$")
	markerRE = regexp.MustCompile(`^<!-- doc-test: (run((?:; [a-z]+: [^;]+)*)|skip \((.+)\)) -->$`)
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// blocks parses every document's shell blocks; a block without a valid
// marker is reported in bad.
func blocks(t *testing.T, root string) (all []block, bad []string) {
	t.Helper()
	var files []string
	for _, g := range docFiles {
		m, err := filepath.Glob(filepath.Join(root, g))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		var prev string
		var cur *block
		n := 0
		for sc.Scan() {
			n++
			line := sc.Text()
			switch {
			case cur != nil && strings.HasPrefix(strings.TrimSpace(line), "```"):
				all = append(all, *cur)
				cur = nil
			case cur != nil:
				cur.script += line + "\n"
			case fenceRE.MatchString(line):
				cur = &block{file: rel, line: n}
				m := markerRE.FindStringSubmatch(strings.TrimSpace(prev))
				switch {
				case m == nil:
					bad = append(bad, fmt.Sprintf("%s:%d: no <!-- doc-test: run --> or <!-- doc-test: skip (why) --> on the line before the block", rel, n))
				case m[3] != "":
					cur.reason = m[3]
				default:
					cur.run = true
					for _, opt := range strings.Split(m[2], "; ")[1:] {
						k, v, _ := strings.Cut(opt, ": ")
						switch k {
						case "cleanup":
							cur.cleanup = v
						case "check":
							cur.check = v
						default:
							bad = append(bad, fmt.Sprintf("%s:%d: unknown doc-test option %q", rel, n, k))
						}
					}
				}
			}
			prev = line
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return all, bad
}

// TestEveryShellBlockIsMarked: a new shell block in the docs must say
// whether make test runs it, and if not, why.
func TestEveryShellBlockIsMarked(t *testing.T) {
	all, bad := blocks(t, repoRoot(t))
	for _, b := range bad {
		t.Error(b)
	}
	run := 0
	for _, b := range all {
		if b.run {
			run++
		}
	}
	t.Logf("%d shell blocks in the docs, %d run by TestShellBlocks", len(all), run)
	if run == 0 {
		t.Error("no shell block is marked to run")
	}
}

// mirror makes a directory that looks like the repository to a block: every
// top-level entry linked, bin/kinesis-sink the binary built for this run.
func mirror(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "bin" {
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e2e.KinesisSinkBinary(t), filepath.Join(dir, "bin", "kinesis-sink")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checks verify what a block did beyond its exit status, named by the
// block's check option.
var checks = map[string]func(t *testing.T, env *testenv.PulsarEnv, k *testenv.KinesisEnv){
	"readme-deploy-delivers": readmeDeployDelivers,
}

// TestShellBlocks runs every block marked run, in document order.
func TestShellBlocks(t *testing.T) {
	env := testenv.Pulsar(t)
	k := testenv.Kinesis(t)
	if env.Home == "" {
		t.Fatalf("%s is not set: the blocks call pulsar-admin", testenv.EnvPulsarHome)
	}
	root := repoRoot(t)
	all, bad := blocks(t, root)
	if len(bad) > 0 {
		t.Fatalf("unmarked blocks (TestEveryShellBlockIsMarked): %v", bad)
	}
	dir := mirror(t, root)
	// pulsar-admin finds its cluster in its client config, as a user's does.
	clientConf := filepath.Join(t.TempDir(), "client.conf")
	conf := fmt.Sprintf("webServiceUrl=%s\nbrokerServiceUrl=%s\n", env.WebURL, env.ServiceURL)
	if tok := os.Getenv("PULSAR_AUTH_TOKEN"); tok != "" {
		conf += "authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken\nauthParams=token:" + tok + "\n"
	}
	if err := os.WriteFile(clientConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := strings.NewReplacer(
		"http://127.0.0.1:8080", env.WebURL,
		"pulsar://127.0.0.1:6650", env.ServiceURL,
		"http://127.0.0.1:4567", k.Endpoint,
		"http://127.0.0.1:5000", os.Getenv("AWS_EMULATOR_ENDPOINT"),
	)
	shell := func(t *testing.T, script string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", addr.Replace(script))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(env.Home, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
			"PULSAR_CLIENT_CONF="+clientConf,
			// pulsar-admin starts faster so (as testenv's Admin runs it).
			"PULSAR_EXTRA_OPTS="+strings.TrimSpace(os.Getenv("PULSAR_EXTRA_OPTS")+" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	ran := 0
	for _, b := range all {
		if !b.run {
			continue
		}
		ran++
		t.Run(b.String(), func(t *testing.T) {
			if b.cleanup != "" {
				t.Cleanup(func() {
					if out, err := shell(t, b.cleanup); err != nil {
						t.Errorf("cleanup %q: %v\n%s", b.cleanup, err, out)
					}
				})
			}
			out, err := shell(t, b.script)
			if err != nil {
				t.Fatalf("%v\n--- block\n%s--- output\n%s", err, addr.Replace(b.script), out)
			}
			t.Logf("output:\n%s", out)
			if b.check != "" {
				check := checks[b.check]
				if check == nil {
					t.Fatalf("check %q is not in checks", b.check)
				}
				check(t, env, k)
			}
		})
	}
	for name := range checks {
		found := false
		for _, b := range all {
			found = found || (b.run && b.check == name)
		}
		if !found {
			t.Errorf("check %s is named by no block marked run", name)
		}
	}
	t.Logf("%d of %d shell blocks run", ran, len(all))
}

// readmeDeployDelivers: the README's deploy block delivers to kinesalite as
// it stands. The example file names no endpoint; the functions worker that
// scripts/local-env.sh starts carries AWS_ENDPOINT_URL_KINESIS and dummy
// keys, and local-env creates the example's streams. An order published to
// the example's first topic must reach the stream orders, keyed by its
// customer.id.
func readmeDeployDelivers(t *testing.T, env *testenv.PulsarEnv, k *testenv.KinesisEnv) {
	const orderSchema = `{"type":"record","name":"Order","fields":[{"name":"customer","type":{"type":"record","name":"Customer","fields":[{"name":"id","type":"string"}]}},{"name":"item","type":"string"}]}`
	type customer struct {
		ID string `json:"id"`
	}
	type order struct {
		Customer customer `json:"customer"`
		Item     string   `json:"item"`
	}
	p, err := env.Client(t).CreateProducer(pulsar.ProducerOptions{Topic: "persistent://public/default/orders",
		Schema: pulsar.NewJSONSchema(orderSchema, nil)})
	if err != nil {
		t.Fatal(err)
	}
	item := fmt.Sprintf("readme-order-%d", time.Now().UnixNano())
	if _, err := p.Send(context.Background(), &pulsar.ProducerMessage{Value: order{customer{"customer-1"}, item}}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	env.WaitFor(t, 2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		recs, err := k.ReadAllContext(ctx, "orders")
		if err != nil {
			t.Logf("read stream orders: %v (a Pulsar not started by scripts/local-env.sh lacks the AWS_ENDPOINT_URL_* variables)", err)
			return false
		}
		for _, r := range recs {
			if strings.Contains(string(r.Data), item) {
				if r.PartitionKey != "customer-1" {
					t.Fatalf("the order arrived keyed %q, want customer-1 (partitionKeyField customer.id)", r.PartitionKey)
				}
				return true
			}
		}
		return false
	}, "the order published to persistent://public/default/orders in kinesalite's stream orders")
}
