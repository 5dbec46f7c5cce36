package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Jars TestJavaReference runs on: Gson as Pulsar 4.0 bundles it and the
// flatbuffers-java runtime. Fetch them with
//
//	mvn dependency:get -Dartifact=com.google.code.gson:gson:2.11.0
//	mvn dependency:get -Dartifact=com.google.flatbuffers:flatbuffers-java:2.0.8
var javaRefJars = []string{
	"com/google/code/gson/gson/2.11.0/gson-2.11.0.jar",
	"com/google/flatbuffers/flatbuffers-java/2.0.8/flatbuffers-java-2.0.8.jar",
}

// javaRefInput is the input file of testdata/javaref/JavaReference.java.
type javaRefInput struct {
	Records     []javaRefRecord `json:"records"`
	OrderProbes []javaRefProbe  `json:"orderProbes"`
}

type javaRefRecord struct {
	Name       string          `json:"name"`
	Payload    string          `json:"payload"`
	Properties [][2]string     `json:"properties"`
	Encryption *javaRefEncrypt `json:"encryption"`
}

type javaRefEncrypt struct {
	Keys             []javaRefKey `json:"keys"`
	Param            string       `json:"param"`
	Algorithm        string       `json:"algorithm"`
	CompressionType  *string      `json:"compressionType"`
	UncompressedSize int          `json:"uncompressedSize"`
	BatchSize        *int         `json:"batchSize"`
}

type javaRefKey struct {
	Name     string      `json:"name"`
	Value    string      `json:"value"`
	Metadata [][2]string `json:"metadata"`
}

type javaRefProbe struct {
	Kind string   `json:"kind"` // "merge" or "put"
	Keys []string `json:"keys"` // in insertion order
}

// orderProbes are key sets whose Java HashMap order is compared with
// javaOrder: random sizes around every resize threshold, plus sets built
// to collide in buckets (equal hashes, same low bits, treeify-driven
// resizes). Keys are inserted in ascending order, the encoders'
// assumption.
func orderProbes() []javaRefProbe {
	rng := rand.New(rand.NewPCG(1, 2))
	var sets [][]string
	for _, n := range []int{1, 2, 3, 7, 8, 9, 12, 13, 14, 15, 24, 25, 26, 40, 48, 49, 50, 97} {
		keys := map[string]bool{}
		for len(keys) < n {
			b := make([]byte, 1+rng.IntN(12))
			for i := range b {
				b[i] = byte(' ' + rng.IntN(95))
			}
			keys[string(b)] = true
		}
		sets = append(sets, slices.Collect(maps.Keys(keys)))
	}
	// Same-bucket keys: 7, 8 and 9 in one bucket of 16 (the merge and put
	// treeify thresholds), alone and with other keys.
	for _, n := range []int{7, 8, 9, 10, 17} {
		sets = append(sets, sameBucketKeys(n))
		sets = append(sets, append(sameBucketKeys(n), "x", "y", "z", "alpha", "beta"))
	}
	sets = append(sets, []string{"Aa", "BB", "AaAa", "AaBB", "BBAa", "BBBB", "C", "日本", "😀", "é"})
	var probes []javaRefProbe
	for _, s := range sets {
		s = slices.Clone(s)
		slices.Sort(s)
		probes = append(probes, javaRefProbe{"merge", s}, javaRefProbe{"put", s})
	}
	return probes
}

func javaRefRecords() []javaRefRecord {
	b64 := base64.StdEncoding.EncodeToString
	var out []javaRefRecord
	for _, c := range testCases() {
		r := javaRefRecord{Name: c.name, Payload: b64(c.rec.Payload), Properties: sortedPairs(c.rec.Properties)}
		if enc := c.rec.Encryption; enc != nil {
			e := &javaRefEncrypt{Keys: []javaRefKey{}, Param: b64(enc.Param), Algorithm: enc.Algorithm,
				UncompressedSize: enc.UncompressedSize}
			if enc.CompressionType != "" {
				e.CompressionType = &enc.CompressionType
			}
			if enc.HasBatchSize {
				e.BatchSize = &enc.BatchSize
			}
			for name, k := range enc.Keys {
				e.Keys = append(e.Keys, javaRefKey{Name: name, Value: b64(k.Value), Metadata: sortedPairs(k.Metadata)})
			}
			slices.SortFunc(e.Keys, func(a, b javaRefKey) int {
				return bytes.Compare([]byte(a.Name), []byte(b.Name))
			})
			r.Encryption = e
		}
		out = append(out, r)
	}
	return out
}

// TestJavaReference runs testdata/javaref/JavaReference.java, which
// produces the Java sink's output with the real JDK HashMap, Gson and
// flatbuffers-java, and requires our encoders (and so the golden files,
// which TestGolden ties to them) to match it byte for byte. It needs java,
// javac, flatc and the jars above in ~/.m2, and skips without them.
func TestJavaReference(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	var missing []string
	tools := map[string]string{}
	for _, tool := range []string{"java", "javac", "flatc"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			missing = append(missing, tool)
		}
		tools[tool] = p
	}
	home, _ := os.UserHomeDir()
	var cp []string
	for _, j := range javaRefJars {
		p := filepath.Join(home, ".m2", "repository", j)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
		cp = append(cp, p)
	}
	if len(missing) > 0 {
		t.Skipf("Java reference check needs %v", missing)
	}

	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	classes := filepath.Join(dir, "classes")
	out := filepath.Join(dir, "out")
	run := func(name string, args ...string) {
		t.Helper()
		if b, err := exec.Command(tools[name], args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, b)
		}
	}
	run("flatc", "--java", "--no-warnings", "-o", gen, "../../flatbuf/kinesis_message.fbs")
	sources, _ := filepath.Glob(filepath.Join(gen, "org/apache/pulsar/io/kinesis/fbs/*.java"))
	classPath := joinPath(cp...)
	run("javac", append([]string{"-nowarn", "-cp", classPath, "-d", classes, "testdata/javaref/JavaReference.java"}, sources...)...)

	probes := orderProbes()
	in, err := json.Marshal(javaRefInput{Records: javaRefRecords(), OrderProbes: probes})
	if err != nil {
		t.Fatal(err)
	}
	inPath := filepath.Join(dir, "input.json")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	run("java", "-cp", joinPath(append(cp, classes)...), "JavaReference", inPath, out)

	for _, c := range testCases() {
		for f, ext := range map[Format]string{FullMessageInJSON: ".json", FullMessageInFB: ".fb"} {
			want, err := os.ReadFile(filepath.Join(out, c.name+ext))
			if err != nil {
				t.Fatal(err)
			}
			if got := encode(t, f, c); !bytes.Equal(got, want) {
				t.Errorf("%s %s differs from Java:\n  go %q\njava %q", c.name, f, got, want)
			}
		}
	}

	data, err := os.ReadFile(filepath.Join(out, "orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	var javaOrders [][]string
	if err := json.Unmarshal(data, &javaOrders); err != nil {
		t.Fatal(err)
	}
	for i, p := range probes {
		entries := make([]ordered[struct{}], len(p.Keys))
		for j, k := range p.Keys {
			entries[j] = ordered[struct{}]{key: k}
		}
		var s scratch
		var got []string
		for _, e := range javaOrdered(&s, entries, nil, p.Kind == "merge") {
			got = append(got, e.key)
		}
		if !slices.Equal(got, javaOrders[i]) {
			t.Errorf("probe %d (%s, %d keys):\n  go %q\njava %q", i, p.Kind, len(p.Keys), got, javaOrders[i])
		}
	}
}

func joinPath(parts ...string) string {
	return strings.Join(parts, string(os.PathListSeparator))
}
