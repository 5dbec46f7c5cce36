// Command mkzip writes a reproducible zip of a directory: the same files
// give the same bytes, whatever their timestamps, owners, permission bits
// beyond "executable or not", the umask or the order the file system lists
// them in.
//
//	mkzip -o dist/x.zip -root x -epoch 1700000000 -sums SHA256SUMS staging-dir
//
// What makes it reproducible:
//   - entries in byte order of their path, directories before their contents;
//   - every entry's time is -epoch (SOURCE_DATE_EPOCH), as an MS-DOS time in
//     UTC, with no extended-timestamp extra field (Go's zip writer adds one
//     whenever FileHeader.Modified is set, so the DOS fields are set
//     directly);
//   - modes normalised to 0755 (directories, executables) or 0644;
//   - no extra fields, no comment, no data descriptors (sizes and CRC are
//     in the local headers);
//   - deflate at best compression; Go's compress/flate output depends only
//     on the input and the Go release, so builds with the same toolchain
//     agree.
//
// With -sums NAME, a file NAME listing the SHA-256 of every other file (the
// format `sha256sum -c` reads) is added at the top of the archive. Beside the
// zip, OUT.sha256 holds the zip's own sum in the same format.
package main

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"archive/zip"
)

func main() {
	out := flag.String("o", "", "the zip to write (required)")
	root := flag.String("root", "", "directory name every entry is placed under inside the zip (none when empty)")
	epoch := flag.Int64("epoch", 315532800, "modification time of every entry, in seconds since 1970 (SOURCE_DATE_EPOCH); clamped to 1980-2107, the range of zip times")
	sums := flag.String("sums", "", "add a file of this name with the SHA-256 of every other file")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mkzip -o OUT.zip [-root NAME] [-epoch SECONDS] [-sums NAME] DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, flag.Arg(0), *root, time.Unix(*epoch, 0), *sums); err != nil {
		fmt.Fprintf(os.Stderr, "mkzip: %v\n", err)
		os.Exit(1)
	}
}

func run(out, dir, root string, mtime time.Time, sums string) error {
	entries, err := collect(dir, sums)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := write(&buf, entries, root, mtime); err != nil {
		return err
	}
	if err := writeAtomic(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	return writeAtomic(out+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+filepath.Base(out)+"\n"), 0o644)
}

// entry is one file or directory of the archive; name is slash-separated
// and relative to the root, with a trailing slash for directories.
type entry struct {
	name string
	exec bool
	data []byte
}

func (e entry) dir() bool { return strings.HasSuffix(e.name, "/") }

// collect reads dir into sorted entries, plus the sums file when asked.
// Only regular files and directories are accepted: a symlink or device
// would make the archive depend on what it points to.
func collect(dir, sums string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries = append(entries, entry{name: name + "/"})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entries = append(entries, entry{name: name, exec: info.Mode()&0o111 != 0, data: data})
		default:
			return fmt.Errorf("%s: only regular files and directories can be archived, found %s", p, d.Type())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: nothing to archive", dir)
	}
	if sums != "" {
		if strings.ContainsAny(sums, "/\\") {
			return nil, fmt.Errorf("-sums %q: must be a plain file name", sums)
		}
		var b strings.Builder
		sortEntries(entries)
		for _, e := range entries {
			if e.name == sums {
				return nil, fmt.Errorf("%s: already holds %s", dir, sums)
			}
			if !e.dir() {
				s := sha256.Sum256(e.data)
				fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(s[:]), e.name)
			}
		}
		entries = append(entries, entry{name: sums, data: []byte(b.String())})
	}
	sortEntries(entries)
	return entries, nil
}

// sortEntries orders by path components, so that a directory comes right
// before its contents ("a/" < "a/b" < "a-b"), whatever the byte values of
// '/' and the other characters.
func sortEntries(entries []entry) {
	sort.Slice(entries, func(i, j int) bool {
		a := strings.Split(strings.TrimSuffix(entries[i].name, "/"), "/")
		b := strings.Split(strings.TrimSuffix(entries[j].name, "/"), "/")
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	})
}

// write writes the archive of entries to w.
func write(w io.Writer, entries []entry, root string, mtime time.Time) error {
	dosDate, dosTime := msDosTime(mtime)
	zw := zip.NewWriter(w)
	if root != "" {
		root = strings.Trim(root, "/")
		if err := add(zw, entry{name: root + "/"}, dosDate, dosTime); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if root != "" {
			d := e.dir()
			e.name = path.Join(root, e.name)
			if d {
				e.name += "/"
			}
		}
		if err := add(zw, e, dosDate, dosTime); err != nil {
			return err
		}
	}
	return zw.Close()
}

func add(zw *zip.Writer, e entry, dosDate, dosTime uint16) error {
	fh := &zip.FileHeader{Name: e.name, Method: zip.Store}
	//lint:ignore SA1019 setting Modified instead would add an extended-timestamp extra field
	fh.ModifiedDate, fh.ModifiedTime = dosDate, dosTime
	// SetMode records Unix permissions (creator "Unix", external attributes).
	switch {
	case e.dir():
		fh.SetMode(fs.ModeDir | 0o755)
	case e.exec:
		fh.SetMode(0o755)
	default:
		fh.SetMode(0o644)
	}
	// CreateRaw leaves the version fields to us; 2.0 is what deflate needs.
	fh.CreatorVersion = fh.CreatorVersion&0xff00 | 20
	fh.ReaderVersion = 20
	var payload []byte
	if !e.dir() {
		fh.CRC32 = crc32.ChecksumIEEE(e.data)
		fh.UncompressedSize64 = uint64(len(e.data))
		var comp bytes.Buffer
		fw, err := flate.NewWriter(&comp, flate.BestCompression)
		if err != nil {
			return err
		}
		fw.Write(e.data)
		if err := fw.Close(); err != nil {
			return err
		}
		// Store what deflate cannot shrink (e.g. an empty file), as zip
		// tools do.
		if comp.Len() < len(e.data) {
			fh.Method = zip.Deflate
			payload = comp.Bytes()
		} else {
			payload = e.data
		}
		fh.CompressedSize64 = uint64(len(payload))
	}
	pw, err := zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	_, err = pw.Write(payload)
	return err
}

// msDosTime encodes t (taken in UTC) as zip's MS-DOS date and time, which
// count from 1980 and have a 2-second resolution.
func msDosTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if lo := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(lo) {
		t = lo
	}
	if hi := time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC); t.After(hi) {
		t = hi
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tm = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, tm
}

// writeAtomic writes through a temporary file and a rename, so an
// interrupted run never leaves a truncated zip that looks complete.
func writeAtomic(name string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), perm)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), name)
}
