package errtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"yaml: unmarshal errors:\n  line 3: cannot unmarshal": "yaml: unmarshal errors: line 3: cannot unmarshal",
		"  a\t b \r\n": "a b",
		"already fine": "already fine",
		"":             "",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	const max = 512
	long := strings.Repeat("é", 400) // 800 bytes
	got := Truncate(long, max)
	if len(got) > max+3 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Fatalf("truncate cut a character: %q", got[len(got)-8:])
	}
	if !utf8.ValidString(got) {
		t.Fatal("not valid UTF-8")
	}
	if s := strings.Repeat("a", max); Truncate(s, max) != s {
		t.Fatal("a string of exactly n bytes must be kept")
	}
}
