// Package deploy is `kinesis-sink deploy`: it creates, updates, deletes or
// inspects the sink as a Go function through the Pulsar admin REST API, from
// the same sink config file a Java sink user gives to `pulsar-admin sinks
// create`. Its rooms: translate.go turns the sink config file into the
// worker's FunctionConfig (pure, with notes); local.go turns that into the
// instance config of `kinesis-sink localrun`, so a file means one thing
// either way; admin.go is the admin REST client; status.go prints what the
// worker reports; deploy.go runs an action with them.
//
// Why a function and not a sink: the worker's sink path only runs Java
// connectors (it looks for a Sink class in a NAR), while the function path
// runs any Linux executable as runtime GO (docs/functions-contract.md §7).
// So the file's SinkConfig fields are translated to a FunctionConfig, and
// the options the worker refuses for Go functions are either mapped onto
// what the sink does itself or refused here, before anything is uploaded.
//
// The REST calls are made directly rather than through pulsaradmin: its
// FunctionConfig always sends cleanupSubscription (so "unset", which the
// worker turns into true, cannot be expressed) and it cannot send the
// binary with a known Content-Length, which redirects between workers need.
package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// Options say what to deploy and where; cmd/kinesis-sink fills them from
// its flags.
type Options struct {
	// Action is create, update, delete or status.
	Action string
	// AdminURL is the Pulsar web service (admin REST) URL; pulsar-admin's
	// default when not given.
	AdminURL string
	// File is the pulsar-admin sink config file.
	File string
	// Binary is the Linux executable to upload. Create defaults to the file's
	// archive (when it names a local Go executable) and then to this
	// executable; update uploads only when one of them is given explicitly.
	Binary string
	// AuthPlugin and authParams are pulsar-admin's --auth-plugin and
	// --auth-params (token and TLS client-certificate authentication).
	AuthPlugin, AuthParams string
	// TLSTrustCertPath is a PEM file of CA certificates for an https admin
	// URL; the system pool when empty.
	TLSTrustCertPath string
	// TLSAllowInsecure accepts any server certificate.
	TLSAllowInsecure bool
	// TLSHostnameVerification checks the server certificate's host name; off
	// by default, as in pulsar-admin.
	TLSHostnameVerification bool
	// SkipConfigCheck deploys the configs: block without validating it as
	// this sink's configuration (for a different executable, e.g. a test
	// build).
	SkipConfigCheck bool
	// Wait, when positive, makes create and update wait until every
	// instance runs, and delete until the function is gone.
	Wait time.Duration
	// JSONOut prints status as the worker's JSON.
	JSONOut bool
	// DryRun prints the FunctionConfig that would be sent and stops.
	DryRun bool
	// BinarySet says the binary was given explicitly (update uploads only
	// then).
	BinarySet bool
}

type deployer struct {
	opts           *Options
	stdout, stderr io.Writer
	client         *http.Client
	authHeader     string
	base           *url.URL
}

func (d *deployer) note(format string, args ...any) {
	fmt.Fprintf(d.stderr, "note: %s\n", fmt.Sprintf(format, args...))
}

func (d *deployer) run(ctx context.Context, binarySet bool) error {
	o := d.opts
	if o.File == "" {
		return errors.New("--sink-config-file is required")
	}
	f, err := conf.LoadSinkConfigFile(o.File)
	if err != nil {
		return err
	}
	id, err := functionIdentity(o.File, f)
	if err != nil {
		return err
	}
	if o.Action == "create" || o.Action == "update" {
		fc, notes, err := translate(o.File, f, !o.SkipConfigCheck, f.ClearTextSecrets())
		for _, n := range notes {
			d.note("%s", n)
		}
		if err != nil {
			return err
		}
		pkg, err := d.choosePackage(f, binarySet)
		if err != nil {
			return err
		}
		if pkg.path != "" {
			fc.Go = filepath.Base(pkg.path)
		} else if pkg.url != "" {
			fc.Go = pkg.url
		}
		if o.DryRun {
			b, _ := json.MarshalIndent(redactedConfig(fc), "", "  ")
			fmt.Fprintf(d.stdout, "%s\n", b)
			if pkg.path != "" {
				fmt.Fprintf(d.stdout, "package: %s\n", pkg.path)
			} else if pkg.url != "" {
				fmt.Fprintf(d.stdout, "package URL: %s\n", pkg.url)
			}
			return nil
		}
		if err := d.connect(); err != nil {
			return err
		}
		var before *FunctionStatus
		if o.Action == "update" && o.Wait > 0 {
			var st FunctionStatus
			if d.call(ctx, http.MethodGet, id.path("/status"), nil, "", &st) == nil {
				before = &st
			}
		}
		if err := d.upload(ctx, id, fc, pkg); err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "%s function %s (%s)\n", map[string]string{"create": "created", "update": "updated"}[o.Action], id, pkg.describe())
		if o.Wait > 0 {
			want := 0
			switch {
			case fc.Parallelism != nil:
				want = *fc.Parallelism
			case o.Action == "create":
				want = 1
			}
			return d.waitRunning(ctx, id, o.Wait, before, want)
		}
		return nil
	}
	if err := d.connect(); err != nil {
		return err
	}
	switch o.Action {
	case "delete":
		// A file whose archive is a package URL deploys a package the user
		// uploaded, which other functions may use: only an executable the
		// worker stored from an upload is deleted with the function.
		uploaded := !strings.Contains(f.Archive, "://")
		err := d.call(ctx, http.MethodDelete, id.path(""), nil, "", nil)
		var we *workerError
		if errors.As(err, &we) && we.status == http.StatusNotFound && uploaded {
			// Gone already (pulsar-admin functions delete), perhaps leaving
			// the package that keeps its name from being created again.
			if d.deletePackages(ctx, id) {
				return nil
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "deleted function %s\n", id)
		if o.Wait > 0 {
			if err := d.waitGone(ctx, id, o.Wait); err != nil {
				return err
			}
		}
		if uploaded {
			d.deletePackages(ctx, id)
		}
		return nil
	case "status":
		var raw json.RawMessage
		if err := d.call(ctx, http.MethodGet, id.path("/status"), nil, "", &raw); err != nil {
			return err
		}
		if o.JSONOut {
			var buf bytes.Buffer
			if json.Indent(&buf, raw, "", "  ") != nil {
				buf.Reset()
				buf.Write(raw)
			}
			fmt.Fprintf(d.stdout, "%s\n", buf.Bytes())
			return nil
		}
		var st FunctionStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("status of %s: unexpected answer from the worker: %v", id, err)
		}
		printStatus(d.stdout, id, &st)
		return nil
	}
	return fmt.Errorf("unknown action %q", o.Action)
}

// deployPackage is what create/update upload: a local file, a package URL
// the worker fetches itself, or nothing (update of the config only).
type deployPackage struct {
	path string
	url  string
}

func (p deployPackage) describe() string {
	switch {
	case p.path != "":
		return "uploaded " + p.path
	case p.url != "":
		return "package " + p.url
	}
	return "configuration only, binary unchanged"
}

// packageURLPrefixes are the archive values the worker downloads itself
// (pulsar-admin's isFunctionPackageUrlSupported, plus package names).
var packageURLPrefixes = []string{"http://", "https://", "file:", "function://", "sink://", "source://"}

func (d *deployer) choosePackage(f *conf.SinkConfigFile, binarySet bool) (deployPackage, error) {
	o := d.opts
	if binarySet {
		if o.Binary == "" {
			return deployPackage{}, errors.New("--binary: empty path")
		}
		return deployPackage{path: o.Binary}, checkLinuxExecutable("--binary", o.Binary)
	}
	if a := f.Archive; a != "" {
		switch {
		case slices.ContainsFunc(packageURLPrefixes, func(p string) bool { return strings.HasPrefix(a, p) }):
			return deployPackage{url: a}, nil
		case strings.HasPrefix(a, "builtin://") || strings.HasSuffix(a, ".nar") || strings.HasSuffix(a, ".jar"):
			if o.Action == "update" {
				d.note("archive %q is a Java connector; ignored (the executable stays as it is unless --binary is given)", a)
			} else {
				d.note("archive %q is a Java connector; deploying the Go executable instead", a)
			}
		default:
			p, err := archivePath(o.File, a)
			if err == nil {
				err = checkLinuxExecutable(fmt.Sprintf("sink config file %q: \"archive\" %q ->", o.File, a), p)
			}
			if err != nil {
				return deployPackage{}, fmt.Errorf("%w; remove archive: from the file to upload this executable, or give --binary PATH", err)
			}
			return deployPackage{path: p}, nil
		}
	}
	if o.Action == "update" {
		return deployPackage{}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return deployPackage{}, fmt.Errorf("--binary: cannot find this executable (%v); give --binary", err)
	}
	if goruntime.GOOS != "linux" {
		return deployPackage{}, fmt.Errorf("--binary: this executable is built for %s/%s and the worker runs Linux; give --binary with the linux build (kinesis-sink-<version>-linux-<arch>.zip)", goruntime.GOOS, goruntime.GOARCH)
	}
	return deployPackage{path: exe}, checkLinuxExecutable("--binary (default: this executable)", exe)
}

// archivePath finds a relative archive where pulsar-admin looks, the
// working directory, and then next to the file, where a release zip puts
// the executable beside its example file. Not found, the error names every
// path it tried.
func archivePath(file, archive string) (string, error) {
	tried := []string{archive}
	if next := filepath.Join(filepath.Dir(file), archive); !filepath.IsAbs(archive) && next != filepath.Clean(archive) {
		tried = append(tried, next)
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	where := tried[0]
	if !filepath.IsAbs(archive) {
		where += " (from the working directory)"
		if len(tried) > 1 {
			where += " or " + tried[1] + " (next to the file)"
		}
	}
	return "", fmt.Errorf("sink config file %q: \"archive\" %q: not found at %s", file, archive, where)
}

// checkLinuxExecutable rejects what the worker could not exec: a missing
// file, a script, a NAR, a binary for another OS.
func checkLinuxExecutable(what, path string) error {
	ef, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("%s %s: %v", what, path, errors.Unwrap(err))
		}
		return fmt.Errorf("%s %s: not a Linux executable (ELF); use the kinesis-sink binary from the linux zip", what, path)
	}
	defer ef.Close()
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return fmt.Errorf("%s %s: an ELF %s, not an executable", what, path, ef.Type)
	}
	return nil
}

// Run carries out o.Action, writing results to stdout and notes to stderr.
func Run(ctx context.Context, o *Options, stdout, stderr io.Writer) error {
	d := &deployer{opts: o, stdout: stdout, stderr: stderr}
	return d.run(ctx, o.BinarySet)
}
