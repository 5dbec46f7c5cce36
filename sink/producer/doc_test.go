package producer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocNamesEveryFile keeps the package documentation's file list true:
// every source file has its line, and every line names a file that exists.
func TestDocNamesEveryFile(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(l, "//   - "), ".go: "); ok && l != strings.TrimPrefix(l, "//   - ") {
			listed[name+".go"] = true
		}
	}
	files, _ := filepath.Glob("*.go")
	have := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "doc.go" {
			continue
		}
		have[f] = true
		if !listed[f] {
			t.Errorf("doc.go's file list does not name %s", f)
		}
	}
	for f := range listed {
		if !have[f] {
			t.Errorf("doc.go names %s, which is not a source file of the package", f)
		}
	}
	if len(listed) < 10 {
		t.Fatalf("found only %d files listed in doc.go: the list's format changed?", len(listed))
	}
}
