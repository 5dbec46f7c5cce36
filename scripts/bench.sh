#!/usr/bin/env bash
# bench.sh [bench flags...]: `make bench`. Fetches the Java Kinesis sink's NAR (for the side-by-side rows) into the
# cache, builds our kinesis-go NAR (the nar rows), then runs scripts/bench against the local services (started and stopped by with-services.sh if they are not
# already up). Flags are passed to the benchmark: e.g. -quick, -rows go, -sizes 100; `go run ./scripts/bench -h`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${KS_CACHE_DIR:-$repo/.cache}
case $cache in /*) ;; *) cache=$PWD/$cache ;; esac

mkdir -p "$cache"
nar_args=()
if nar=$("$here/lib/java-sink-nar.sh" 2>"$cache/.nar-error"); then
	nar_args=(-nar "$nar")
else
	nar_args=(-nar-error "$(cat "$cache/.nar-error")")
fi

# Our kinesis-go NAR (the nar rows), for this machine's architecture.
mkdir -p "$cache/bench"
go_nar=$cache/bench/pulsar-io-kinesis-go.nar
if ARCHES=$(go env GOARCH) "$here/build-nar.sh" "$go_nar" >/dev/null 2>"$cache/.go-nar-error"; then
	nar_args+=(-go-nar "$go_nar")
else
	nar_args+=(-go-nar-error "scripts/build-nar.sh failed: $(tail -5 "$cache/.go-nar-error")")
fi

cd "$repo"
exec "$here/lib/with-services.sh" go run ./scripts/bench "${nar_args[@]}" "$@"
