package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// stage writes files (name -> mode, content derived from the name) into a
// new directory, in the given order, with the given modification time.
func stage(t *testing.T, names []string, modes map[string]fs.FileMode, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		content := strings.Repeat("content of "+n+"\n", 50)
		if n == "empty" {
			content = ""
		}
		if err := os.WriteFile(p, []byte(content), modes[n]); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, modes[n]) // WriteFile's mode is filtered by the umask
		os.Chtimes(p, mtime, mtime)
	}
	return dir
}

const epoch = 1700000001 // odd on purpose: zip times have 2-second steps

// TestReproducible: the same files give the same bytes regardless of
// modification times, permission bits other than "executable", creation
// order and directory modes; the archive holds exactly what it should.
func TestReproducible(t *testing.T) {
	names := []string{"kinesis-sink", "a.txt", "function-mesh/x.yaml", "empty", "b-c", "b/d"}
	modes1 := map[string]fs.FileMode{"kinesis-sink": 0o700, "a.txt": 0o600, "function-mesh/x.yaml": 0o664, "empty": 0o644, "b-c": 0o644, "b/d": 0o640}
	modes2 := map[string]fs.FileMode{"kinesis-sink": 0o755, "a.txt": 0o644, "function-mesh/x.yaml": 0o600, "empty": 0o600, "b-c": 0o666, "b/d": 0o644}
	reversed := append([]string(nil), names...)
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	dir1 := stage(t, names, modes1, time.Unix(1, 0))
	dir2 := stage(t, reversed, modes2, time.Now())
	os.Chmod(filepath.Join(dir2, "b"), 0o755)

	out := t.TempDir()
	z1, z2 := filepath.Join(out, "one.zip"), filepath.Join(out, "sub", "two.zip")
	for _, c := range []struct{ out, dir string }{{z1, dir1}, {z2, dir2}} {
		if err := run(c.out, c.dir, "pkg-1.0", time.Unix(epoch, 0), "SHA256SUMS"); err != nil {
			t.Fatal(err)
		}
	}
	b1, _ := os.ReadFile(z1)
	b2, _ := os.ReadFile(z2)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("archives differ: %d and %d bytes", len(b1), len(b2))
	}

	// The sum file beside the zip.
	sum := sha256.Sum256(b1)
	if side, _ := os.ReadFile(z1 + ".sha256"); string(side) != hex.EncodeToString(sum[:])+"  one.zip\n" {
		t.Fatalf("one.zip.sha256: %q", side)
	}

	zr, err := zip.NewReader(bytes.NewReader(b1), int64(len(b1)))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	files := map[string][]byte{}
	want := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC) // epoch rounded down to 2 s
	for _, f := range zr.File {
		order = append(order, fmt.Sprintf("%s %v", f.Name, f.Mode()))
		if len(f.Extra) != 0 || f.Comment != "" || f.Flags&0x8 != 0 {
			t.Errorf("%s: extra %x, comment %q, flags %#x", f.Name, f.Extra, f.Comment, f.Flags)
		}
		if !f.Modified.Equal(want) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, want)
		}
		if f.CreatorVersion>>8 != 3 {
			t.Errorf("%s: creator %#x, want Unix", f.Name, f.CreatorVersion)
		}
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if wantMethod := map[bool]uint16{true: zip.Store, false: zip.Deflate}[f.UncompressedSize64 == 0]; f.Method != wantMethod {
			t.Errorf("%s: method %d", f.Name, f.Method)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	wantOrder := []string{
		"pkg-1.0/ drwxr-xr-x", "pkg-1.0/SHA256SUMS -rw-r--r--", "pkg-1.0/a.txt -rw-r--r--", "pkg-1.0/b/ drwxr-xr-x",
		"pkg-1.0/b/d -rw-r--r--", "pkg-1.0/b-c -rw-r--r--", "pkg-1.0/empty -rw-r--r--", "pkg-1.0/function-mesh/ drwxr-xr-x",
		"pkg-1.0/function-mesh/x.yaml -rw-r--r--", "pkg-1.0/kinesis-sink -rwxr-xr-x",
	}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Fatalf("entries:\n got %q\nwant %q", order, wantOrder)
	}

	// SHA256SUMS lists every other file with its sum.
	var sums []string
	for _, n := range names {
		s := sha256.Sum256(files["pkg-1.0/"+n])
		sums = append(sums, hex.EncodeToString(s[:])+"  "+n)
	}
	gotSums := strings.Split(strings.TrimSuffix(string(files["pkg-1.0/SHA256SUMS"]), "\n"), "\n")
	if len(gotSums) != len(sums) {
		t.Fatalf("SHA256SUMS:\n%s", files["pkg-1.0/SHA256SUMS"])
	}
	for _, s := range sums {
		found := false
		for _, g := range gotSums {
			found = found || g == s
		}
		if !found {
			t.Errorf("SHA256SUMS lacks %q", s)
		}
	}

	// Other tools read it the same way.
	if unzip, err := exec.LookPath("unzip"); err == nil {
		if out, err := exec.Command(unzip, "-tq", z1).CombinedOutput(); err != nil {
			t.Fatalf("unzip -t: %v\n%s", err, out)
		}
		x := t.TempDir()
		if out, err := exec.Command(unzip, "-q", z1, "-d", x).CombinedOutput(); err != nil {
			t.Fatalf("unzip: %v\n%s", err, out)
		}
		cmd := exec.Command("sha256sum", "-c", "--quiet", "SHA256SUMS")
		cmd.Dir = filepath.Join(x, "pkg-1.0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
		}
		if st, err := os.Stat(filepath.Join(x, "pkg-1.0", "kinesis-sink")); err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("unzipped executable: %v %v", st.Mode(), err)
		}
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	os.Symlink("f", filepath.Join(dir, "link"))
	if err := run(filepath.Join(t.TempDir(), "x.zip"), dir, "", time.Unix(epoch, 0), ""); err == nil || !strings.Contains(err.Error(), "only regular files") {
		t.Fatalf("symlink: %v", err)
	}
	os.Remove(filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "SUMS"), []byte("x"), 0o644)
	if err := run(filepath.Join(t.TempDir(), "x.zip"), dir, "", time.Unix(epoch, 0), "SUMS"); err == nil || !strings.Contains(err.Error(), "already holds SUMS") {
		t.Fatalf("existing sums file: %v", err)
	}
	if err := run(filepath.Join(t.TempDir(), "x.zip"), t.TempDir(), "", time.Unix(epoch, 0), ""); err == nil {
		t.Fatal("empty directory accepted")
	}
}

func TestMsDosTime(t *testing.T) {
	for in, want := range map[int64]string{
		0:          "1980-01-01T00:00:00Z", // before the zip epoch: clamped
		315532800:  "1980-01-01T00:00:00Z",
		1700000001: "2023-11-14T22:13:20Z",
		1e11:       "2107-12-31T23:59:58Z",
	} {
		d, tm := msDosTime(time.Unix(in, 0))
		got := time.Date(int(d>>9)+1980, time.Month(d>>5&0xf), int(d&0x1f), int(tm>>11), int(tm>>5&0x3f), int(tm&0x1f)*2, 0, time.UTC)
		if got.Format(time.RFC3339) != want {
			t.Errorf("%d: %s, want %s", in, got.Format(time.RFC3339), want)
		}
	}
}

// TestPackageScript runs scripts/package.sh twice into two directories and
// compares every output byte for byte (the zips and the kinesis-go NAR),
// then checks the amd64 zip: its SHA256SUMS, and that its binary runs and
// reports the stamped version; and what the NAR carries.
// It builds the product four times (two architectures, twice), so it is
// skipped with -short.
func TestPackageScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release twice")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	version := "0.0.0-test"
	env := append(os.Environ(), "VERSION="+version)
	var dists []string
	for i := 0; i < 2; i++ {
		dist := t.TempDir()
		cmd := exec.Command("bash", filepath.Join(root, "scripts", "package.sh"))
		cmd.Env = append(env, "DIST="+dist)
		if i == 1 {
			// A different umask and a stray GOFLAGS must not change anything.
			cmd = exec.Command("bash", "-c", "umask 077 && exec bash "+filepath.Join(root, "scripts", "package.sh"))
			cmd.Env = append(env, "DIST="+dist, "GOFLAGS=-ldflags=-X=main.x=y")
		}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("package.sh: %v\n%s", err, out)
		}
		t.Logf("package.sh run %d (%s):\n%s", i+1, time.Since(start).Round(time.Second), out)
		dists = append(dists, dist)
	}
	var names []string
	for _, arch := range []string{"amd64", "arm64"} {
		z := "kinesis-sink-" + version + "-linux-" + arch + ".zip"
		names = append(names, z, z+".sha256")
	}
	nar := "pulsar-io-kinesis-go-" + version + ".nar"
	names = append(names, nar, nar+".sha256")
	for _, n := range names {
		a, err1 := os.ReadFile(filepath.Join(dists[0], n))
		b, err2 := os.ReadFile(filepath.Join(dists[1], n))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", n, err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs between two builds (%d vs %d bytes)", n, len(a), len(b))
		}
	}

	checkNAR(t, filepath.Join(dists[0], nar))

	x := t.TempDir()
	zpath := filepath.Join(dists[0], "kinesis-sink-"+version+"-linux-amd64.zip")
	extract(t, zpath, x)
	top := filepath.Join(x, "kinesis-sink-"+version+"-linux-amd64")
	sums, err := os.ReadFile(filepath.Join(top, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"DEPLOY.md", "LICENSE", "function-mesh/README.md", "function-mesh/kinesis-sink.yaml", "kinesis-sink", "kinesis-sink.yaml"}
	var listed []string
	for _, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", line)
		}
		b, err := os.ReadFile(filepath.Join(top, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if s := sha256.Sum256(b); hex.EncodeToString(s[:]) != sum {
			t.Errorf("%s: sum differs from SHA256SUMS", name)
		}
		listed = append(listed, name)
	}
	if !reflect.DeepEqual(listed, wantFiles) {
		t.Errorf("SHA256SUMS lists %q, want %q", listed, wantFiles)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out, err := exec.Command(filepath.Join(top, "kinesis-sink"), "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "kinesis-sink "+version+" (commit ") || !strings.Contains(string(out), "linux/amd64") {
			t.Fatalf("kinesis-sink version: %v: %s", err, out)
		}
		t.Logf("%s", out)
	}
	if out, err := exec.Command("file", filepath.Join(top, "kinesis-sink")).CombinedOutput(); err == nil &&
		!strings.Contains(string(out), "statically linked") {
		t.Errorf("binary is not static: %s", out)
	}
}

// checkNAR checks that the NAR has what the worker and the Java sink look
// for: the connector definition naming kinesis-go and its classes, the
// sink class, and a kinesis-sink binary per architecture.
func checkNAR(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	for _, want := range []string{"META-INF/MANIFEST.MF", "META-INF/services/pulsar-io.yaml",
		"io/github/pulsarkinesis/KinesisGoSink.class", "io/github/pulsarkinesis/KinesisGoSinkConfig.class",
		"kinesis-sink/linux-amd64/kinesis-sink", "kinesis-sink/linux-arm64/kinesis-sink"} {
		if files[want] == nil {
			t.Errorf("the NAR has no %s", want)
		}
	}
	if f := files["META-INF/services/pulsar-io.yaml"]; f != nil {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		for _, want := range []string{"name: kinesis-go", "sinkClass: io.github.pulsarkinesis.KinesisGoSink",
			"sinkConfigClass: io.github.pulsarkinesis.KinesisGoSinkConfig"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("pulsar-io.yaml lacks %q:\n%s", want, b)
			}
		}
	}
}

// extract unpacks a zip with its file modes.
func extract(t *testing.T, zpath, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("entry %q leaves the directory", f.Name)
		}
		if f.Mode().IsDir() {
			os.MkdirAll(p, 0o755)
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, f.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}
