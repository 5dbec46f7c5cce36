#!/usr/bin/env bash
# package.sh: build the release zips, reproducibly.
#
#   scripts/package.sh            # dist/kinesis-sink-<version>-linux-{amd64,arm64}.zip (+ .sha256)
#
# Each zip holds, under kinesis-sink-<version>-linux-<arch>/:
#   kinesis-sink                       static binary (CGO off, -trimpath, stripped, version-stamped)
#   kinesis-sink.yaml                  example sink config file (conf/examples/kinesis-sink.yaml)
#   function-mesh/kinesis-sink.yaml    Function Mesh manifest, and its README.md
#   DEPLOY.md                          deployment guide
#   LICENSE
#   SHA256SUMS                         sums of the files above (sha256sum -c SHA256SUMS)
# and dist/<zip>.sha256 holds the zip's own sum. Then dist/pulsar-io-kinesis-go-<version>.nar (+ .sha256), the NAR
# for `pulsar-admin sinks create`, with both binaries (scripts/build-nar.sh; needs Maven).
#
# Reproducible: the same commit built with the same Go release gives the same bytes. File order, times
# (SOURCE_DATE_EPOCH, default the commit time), permissions and zip headers are fixed by packaging/mkzip;
# the build flags below remove paths, VCS stamps and build-machine settings from the binary.
#
# Environment (all optional):
#   VERSION             default: git describe --tags --always --dirty, else 0.0.0-dev
#   COMMIT              default: git rev-parse HEAD, else unknown
#   SOURCE_DATE_EPOCH   default: the commit time (git log -1 --format=%ct), else 1980-01-01
#   DIST                output directory, default dist
#   ARCHES              default "amd64 arm64"
#   GO                  the go command, default go
#   NAR                 1 (default): also build the NAR; 0: the zips only
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
MODULE=github.com/pulsar-kinesis/kinesis-sink
DIST=${DIST:-dist}
ARCHES=${ARCHES:-amd64 arm64}

# shellcheck source=lib/release-stamp.sh
source scripts/lib/release-stamp.sh package.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# mkzip runs on this machine, whatever the target.
env -u GOOS -u GOARCH CGO_ENABLED=0 "$GO" build -o "$work/mkzip" ./packaging/mkzip

mkdir -p "$DIST"
for arch in $ARCHES; do
	case $arch in
	amd64 | arm64) ;;
	*)
		echo "package.sh: ARCHES: $arch is not supported; allowed: amd64 arm64" >&2
		exit 2
		;;
	esac
	name=kinesis-sink-$VERSION-linux-$arch
	stage=$work/$arch/$name
	mkdir -p "$stage/function-mesh"
	# GOAMD64/GOARM64 pinned to their defaults and GOFLAGS cleared so that the caller's environment
	# cannot change the binary; -buildvcs=false because the VCS stamp differs between a clean and a
	# dirty tree even when the code does not.
	env GOOS=linux GOARCH="$arch" CGO_ENABLED=0 GOAMD64=v1 GOARM64=v8.0 GOFLAGS= \
		"$GO" build -trimpath -buildvcs=false \
		-ldflags "-s -w -X $MODULE/internal/version.Version=$VERSION -X $MODULE/internal/version.Commit=$COMMIT" \
		-o "$stage/kinesis-sink" ./cmd/kinesis-sink
	cp conf/examples/kinesis-sink.yaml "$stage/kinesis-sink.yaml"
	cp packaging/function-mesh/kinesis-sink.yaml packaging/function-mesh/README.md "$stage/function-mesh/"
	cp packaging/DEPLOY.md "$stage/DEPLOY.md"
	cp LICENSE "$stage/LICENSE"
	"$work/mkzip" -o "$DIST/$name.zip" -root "$name" -epoch "$SOURCE_DATE_EPOCH" -sums SHA256SUMS "$stage"
	echo "$DIST/$name.zip  $(cut -d' ' -f1 "$DIST/$name.zip.sha256")"
done
if [[ ${NAR:-1} == 1 ]]; then
	nar=$DIST/pulsar-io-kinesis-go-$VERSION.nar
	VERSION=$VERSION COMMIT=$COMMIT SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH ARCHES=$ARCHES GO=$GO scripts/build-nar.sh "$nar" >/dev/null
	echo "$nar  $(cut -d' ' -f1 "$nar.sha256")"
fi
