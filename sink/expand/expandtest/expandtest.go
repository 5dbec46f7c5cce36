// Package expandtest reads sink/expand's golden vectors: the records of its
// golden cases (testdata/vectors.jsonl) and what the sink must write for
// each (testdata/golden). The package's own golden test writes them, the
// Java reference tool reads them, and the end-to-end tests of sink replay
// them through the real runtime; this is the one definition all three share.
package expandtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Vector is one golden case as testdata/javaref/RefEncoder.java reads it.
type Vector struct {
	Name            string      `json:"name"`
	Topic           *string     `json:"topic"`
	Key             *string     `json:"key"`
	Props           [][2]string `json:"props"`
	EventTime       *int64      `json:"eventTime"`
	IncludeNonNulls bool        `json:"includeNonNulls"`
	Flatten         bool        `json:"flatten"`
	Schema          *Schema     `json:"schema"`
	Payload         string      `json:"payload"` // base64
	KeyBytes        *string     `json:"keyBytes,omitempty"`
}

// Schema is a vector's schema; KEY_VALUE has Key and Value halves and an
// Encoding (INLINE or SEPARATED) instead of a Def.
type Schema struct {
	Type     string  `json:"type"`
	Def      string  `json:"def,omitempty"`
	Encoding string  `json:"encoding,omitempty"`
	Key      *Schema `json:"key,omitempty"`
	Value    *Schema `json:"value,omitempty"`
}

// TestdataDir is sink/expand/testdata, found from this file so that tests of
// any package can use it whatever their working directory.
func TestdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// VectorsFile and GoldenDir are where the vectors and their outputs live.
func VectorsFile() string { return filepath.Join(TestdataDir(), "vectors.jsonl") }
func GoldenDir() string   { return filepath.Join(TestdataDir(), "golden") }

// Load reads every vector, in file order.
func Load() ([]Vector, error) {
	f, err := os.Open(VectorsFile())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var v Vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", VectorsFile(), line, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// Expected returns what the sink must write for the named vector: our
// pinned output (<name>.go.json) where sink/expand knowingly differs from
// the Java sink (each such case says why in cases_test.go), else the Java
// sink's bytes (<name>.json). An error satisfying errors.Is(err,
// os.ErrNotExist) means the record is refused by both.
func Expected(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(GoldenDir(), name+".go.json"))
	if errors.Is(err, os.ErrNotExist) {
		return os.ReadFile(filepath.Join(GoldenDir(), name+".json"))
	}
	return b, err
}
