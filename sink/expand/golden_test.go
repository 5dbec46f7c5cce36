package expand

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/sink/expand/expandtest"
)

// The golden flow (see testdata/README.md):
//
//	go test ./sink/expand -run TestVectors -update-vectors   # cases -> testdata/vectors.jsonl
//	testdata/javaref/gen.sh                                  # Java sink -> testdata/golden/*.json|*.java-error
//	go test ./sink/expand -run TestGolden -update-divergent  # our output where Java throws -> *.go.json
var (
	updateVectors   = flag.Bool("update-vectors", false, "rewrite testdata/vectors.jsonl from the golden cases")
	updateDivergent = flag.Bool("update-divergent", false, "rewrite testdata/golden/*.go.json for cases the Java sink rejects")
)

var (
	vectorsFile = expandtest.VectorsFile()
	goldenDir   = expandtest.GoldenDir()
)

// The vectors' types are shared with the end-to-end tests of sink.
type (
	vector    = expandtest.Vector
	vecSchema = expandtest.Schema
)

func toVecSchema(s *runtime.Schema) *vecSchema {
	if s == nil {
		return nil
	}
	v := &vecSchema{Type: string(s.Type), Def: string(s.Definition)}
	if s.Type == runtime.SchemaKeyValue {
		v.Def = ""
		v.Encoding = string(s.KeyValueEncoding)
		v.Key, v.Value = toVecSchema(s.Key), toVecSchema(s.Value)
	}
	return v
}

func toVector(c goldenCase) vector {
	r := c.rec
	v := vector{Name: c.name, IncludeNonNulls: c.opts.IncludeNonNulls, Flatten: c.opts.Flatten,
		Schema: toVecSchema(r.Schema), Payload: base64.StdEncoding.EncodeToString(r.Payload), Props: [][2]string{}}
	if r.Topic != "" {
		v.Topic = &r.Topic
	}
	if r.HasKey {
		v.Key = &r.Key
	}
	if !r.EventTime.IsZero() {
		ms := r.EventTime.UnixMilli()
		v.EventTime = &ms
	}
	keys := make([]string, 0, len(r.Properties))
	for k := range r.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the wire order we assume (see emitProperties)
	for _, k := range keys {
		v.Props = append(v.Props, [2]string{k, r.Properties[k]})
	}
	if r.Schema != nil && r.Schema.KeyValueEncoding == runtime.KeyValueSeparated && r.HasKey {
		kb, err := base64.StdEncoding.DecodeString(r.Key)
		if err != nil {
			kb = []byte(r.Key)
		}
		s := base64.StdEncoding.EncodeToString(kb)
		v.KeyBytes = &s
	}
	return v
}

func renderVectors(cs []goldenCase) []byte {
	var buf bytes.Buffer
	for _, c := range cs {
		line, err := json.Marshal(toVector(c))
		if err != nil {
			panic(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// TestVectorsUpToDate keeps testdata/vectors.jsonl (the Java reference's
// input) in step with the case table, so the goldens were made from exactly
// these records.
func TestVectorsUpToDate(t *testing.T) {
	cs := goldenCases(t)
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.name] {
			t.Fatalf("duplicate case name %s", c.name)
		}
		seen[c.name] = true
	}
	want := renderVectors(cs)
	if *updateVectors {
		if err := os.WriteFile(vectorsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test -run TestVectorsUpToDate -update-vectors, then testdata/javaref/gen.sh", vectorsFile)
	}
	// No golden file may outlive its case.
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*"))
	for _, f := range files {
		base := filepath.Base(f)
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".java-error"), ".json"), ".go")
		if !seen[name] {
			t.Errorf("orphan golden file %s", f)
		}
	}
}

// TestGolden encodes every case and compares it with the Java sink's bytes
// (testdata/golden/<name>.json, made by testdata/javaref from the real
// Pulsar, Jackson and json-flattener libraries).
func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			enc, err := New(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			rec := c.rec
			prefix := []byte("prefix:")
			got, err := enc.Encode(slices.Clone(prefix), &rec)
			javaOut, javaErr := readGolden(t, c.name+".json"), readGolden(t, c.name+".java-error")
			if javaOut == nil && javaErr == nil {
				t.Fatalf("no Java reference for %s: run testdata/javaref/gen.sh", c.name)
			}
			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("encoded %q, want an error containing %q", got, c.wantErr)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %q does not contain %q", err, c.wantErr)
				}
				if !bytes.Equal(got, prefix) {
					t.Fatalf("dst changed on error: %q", got)
				}
				if javaErr == nil {
					t.Fatalf("we fail but the Java sink writes %s", javaOut)
				}
				return
			}
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("dst prefix lost: %q", got)
			}
			got = got[len(prefix):]
			if javaOut != nil && c.improves == "" {
				if c.divergence != "" {
					t.Fatalf("case says the Java sink fails (%s) but it writes %s", c.divergence, javaOut)
				}
				if !bytes.Equal(got, javaOut) {
					t.Fatalf("differs from the Java sink\n got: %s\nwant: %s", got, javaOut)
				}
				return
			}
			// The Java sink throws for this record, or we knowingly write
			// something else; we pin our own output.
			if c.improves != "" {
				if javaOut == nil {
					t.Fatalf("case says we improve on the Java output (%s) but the Java sink fails: %s", c.improves, javaErr)
				}
				if bytes.Equal(got, javaOut) {
					t.Fatalf("case says we improve on the Java output (%s) but we write the same: %s", c.improves, got)
				}
			} else if c.divergence == "" {
				t.Fatalf("the Java sink fails (%s) but the case gives no divergence reason; we wrote %s",
					strings.TrimSpace(string(javaErr)), got)
			}
			path := filepath.Join(goldenDir, c.name+".go.json")
			if *updateDivergent {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := readGolden(t, c.name+".go.json")
			if want == nil {
				t.Fatalf("missing %s: review the output and run with -update-divergent\n got: %s", path, got)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("differs from the pinned output\n got: %s\nwant: %s", got, want)
			}
			if !json.Valid(got) {
				t.Fatalf("pinned output is not valid JSON: %s", got)
			}
		})
	}
}

func readGolden(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}
