#!/usr/bin/env bash
# build-nar.sh OUT.nar: the kinesis-go NAR for `pulsar-admin sinks create`, reproducibly.
#
# It builds the static kinesis-sink binaries (linux/amd64 and linux/arm64, as scripts/package.sh builds them),
# then packaging/nar with Maven (the Java sink class and the NiFi NAR plugin Pulsar's connectors use), and
# rewrites the archive with packaging/mkzip so that one commit gives the same bytes: the NAR plugin stamps its
# manifest with the build time, which becomes SOURCE_DATE_EPOCH's.
#
# Environment (all optional): VERSION, COMMIT, SOURCE_DATE_EPOCH as for scripts/package.sh; ARCHES (default
# "amd64 arm64"); MVN (default mvn); GO (default go).
set -euo pipefail

out=${1:?usage: build-nar.sh OUT.nar}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case $out in /*) ;; *) out=$PWD/$out ;; esac

GO=${GO:-go}
MVN=${MVN:-mvn}
MODULE=github.com/pulsar-kinesis/kinesis-sink
ARCHES=${ARCHES:-amd64 arm64}
# shellcheck source=lib/release-stamp.sh
source scripts/lib/release-stamp.sh build-nar.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for arch in $ARCHES; do
	mkdir -p "$work/bin/linux-$arch"
	env GOOS=linux GOARCH="$arch" CGO_ENABLED=0 GOAMD64=v1 GOARM64=v8.0 GOFLAGS= \
		"$GO" build -trimpath -buildvcs=false \
		-ldflags "-s -w -X $MODULE/internal/version.Version=$VERSION -X $MODULE/internal/version.Commit=$COMMIT" \
		-o "$work/bin/linux-$arch/kinesis-sink" ./cmd/kinesis-sink
done

stamp=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
"$MVN" -q -B -Dstyle.color=never -f packaging/nar/pom.xml package -Dmaven.test.skip=true \
	-Drevision="$VERSION" -Dkinesis.bin.dir="$work/bin" -Dnar.build.dir="$work/target" \
	-Dproject.build.outputTimestamp="$stamp" >&2
nar=$(ls "$work"/target/*.nar)

# Re-pack: fixed times, order and modes (mkzip), the manifest's build time made the commit's.
mkdir "$work/stage"
(cd "$work/stage" && unzip -q "$nar")
sed -i -E "s/^Build-Timestamp: .*/Build-Timestamp: $stamp\r/" "$work/stage/META-INF/MANIFEST.MF"
env -u GOOS -u GOARCH CGO_ENABLED=0 "$GO" build -o "$work/mkzip" ./packaging/mkzip
mkdir -p "$(dirname "$out")"
"$work/mkzip" -o "$out" -epoch "$SOURCE_DATE_EPOCH" "$work/stage"
echo "$out"
