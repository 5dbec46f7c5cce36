# release-stamp.sh, sourced by scripts/package.sh and scripts/build-nar.sh: what stamps a release build, from the
# environment or else from git: VERSION (git describe, else 0.0.0-dev), COMMIT (else unknown) and
# SOURCE_DATE_EPOCH (the commit time, else 1980-01-01), checked, so that both builds of one commit agree.
# $1 names the calling script in errors.

# git output, or nothing outside a repository (a source tarball) or without git.
git_or_empty() { git "$@" 2>/dev/null || true; }
VERSION=${VERSION:-$(git_or_empty describe --tags --always --dirty)}
VERSION=${VERSION:-0.0.0-dev}
COMMIT=${COMMIT:-$(git_or_empty rev-parse HEAD)}
COMMIT=${COMMIT:-unknown}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git_or_empty log -1 --format=%ct)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800}
# The version becomes part of file names and of -ldflags, which splits on spaces.
if [[ ! $VERSION =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
	echo "$1: VERSION=$VERSION: only letters, digits and . _ + - are allowed" >&2
	exit 2
fi
if [[ ! $COMMIT =~ ^[A-Za-z0-9._-]+$ ]]; then
	echo "$1: COMMIT=$COMMIT: only letters, digits and . _ - are allowed" >&2
	exit 2
fi
if [[ ! $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]]; then
	echo "$1: SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH: want seconds since 1970" >&2
	exit 2
fi
