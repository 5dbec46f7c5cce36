// Package version holds the build's identity. `make build` stamps both variables with -ldflags -X; a plain
// `go build` or `go install` leaves the defaults, and String falls back to what the Go toolchain recorded.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

var (
	// Version is the release (git describe) the binary was built from.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
)

// Resolved is Version and Commit, or for an unstamped build the module
// version (`go install …@v1.2.3`) and the VCS revision (a build inside a git
// checkout, "-dirty" when it had local changes) that the toolchain recorded.
func Resolved() (ver, commit string) {
	ver, commit = Version, Commit
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, commit
	}
	if ver == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		ver = bi.Main.Version
	}
	if commit == "unknown" {
		var rev string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			commit = rev
			if dirty {
				commit += "-dirty"
			}
		}
	}
	return ver, commit
}

// String is the line `kinesis-sink version` prints.
func String(prog string) string {
	ver, commit := Resolved()
	return fmt.Sprintf("%s %s (commit %s, %s, %s/%s)", prog, ver, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
