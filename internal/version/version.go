// Package version holds the build's identity. `make build` stamps both variables with -ldflags -X; a plain
// `go build` leaves the defaults, which mark an unstamped developer build.
package version

var (
	// Version is the release (git describe) the binary was built from.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
)
