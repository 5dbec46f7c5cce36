package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current encoders")

var goldenExt = map[Format]string{
	OnlyRawPayload:    ".raw",
	FullMessageInJSON: ".json",
	FullMessageInFB:   ".fb",
}

func mustEncoder(t testing.TB, f Format) Encoder {
	t.Helper()
	e, err := New(f, Options{})
	if err != nil {
		t.Fatalf("New(%s): %v", f, err)
	}
	return e
}

func encode(t testing.TB, f Format, c testCase) []byte {
	t.Helper()
	out, err := mustEncoder(t, f).Encode(nil, &c.rec)
	if err != nil {
		t.Fatalf("%s %s: %v", c.name, f, err)
	}
	return out
}

// TestGolden compares every format's output for every case with the files
// in testdata/golden. Run with -update to rewrite them; then review the
// diff (TestJavaReference checks them against the Java runtime, and
// TestJSONGoldenContent and the FlatBuffers tests check their content).
func TestGolden(t *testing.T) {
	for _, c := range testCases() {
		for f, ext := range goldenExt {
			got := encode(t, f, c)
			path := filepath.Join("testdata", "golden", c.name+ext)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s:\n got %q\nwant %q", c.name, f, got, want)
			}
		}
	}
}

// TestJSONGoldenContent parses every JSON golden and checks its content
// against the record, independently of key order and escaping.
func TestJSONGoldenContent(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, c := range testCases() {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", c.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%s: not JSON: %v", c.name, err)
		}
		props := map[string]any{}
		for _, kv := range sortedPairs(c.rec.Properties) {
			props[kv[0]] = kv[1]
		}
		want := map[string]any{"payloadBase64": b64(c.rec.Payload), "properties": props}
		if enc := c.rec.Encryption; enc != nil {
			keys, meta := map[string]any{}, map[string]any{}
			for name, k := range enc.Keys {
				keys[name] = b64(k.Value)
				if len(k.Metadata) > 0 {
					m := map[string]any{}
					for mk, mv := range k.Metadata {
						m[mk] = mv
					}
					meta[name] = m
				}
			}
			ctx := map[string]any{
				"keysMapBase64":   keys,
				"keysMetadataMap": meta,
				"encParamBase64":  b64(enc.Param),
				"algorithm":       enc.Algorithm,
			}
			if enc.CompressionType != "" {
				ctx["compressionType"] = enc.CompressionType
				ctx["uncompressedMessageSize"] = float64(enc.UncompressedSize)
			}
			if enc.HasBatchSize {
				ctx["batchSize"] = float64(enc.BatchSize)
			}
			want["encryptionCtx"] = ctx
		}
		if !jsonEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s:\n got %s\nwant %s", c.name, gj, wj)
		}
		// The top-level key order is fixed by the Java code.
		order := []string{`{"payloadBase64":`, `,"properties":{`}
		for _, o := range order {
			if !bytes.Contains(data, []byte(o)) {
				t.Errorf("%s: missing %s", c.name, o)
			}
		}
		if c.rec.Encryption != nil && !bytes.Contains(data, []byte(`},"encryptionCtx":{"keysMapBase64":{`)) {
			t.Errorf("%s: encryptionCtx not after properties", c.name)
		}
	}
}

func jsonEqual(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		return ok && maps.EqualFunc(av, bv, jsonEqual)
	default:
		return a == b
	}
}
