#!/usr/bin/env bash
# bench.sh [bench flags...]: `make bench`. Fetches the Java Kinesis sink's NAR (for the side-by-side rows) into the
# cache, then runs scripts/bench against the local services (started and stopped by with-services.sh if they are not
# already up). Flags are passed to the benchmark: e.g. -quick, -rows go, -sizes 100; `go run ./scripts/bench -h`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${KS_CACHE_DIR:-$repo/.cache}
case $cache in /*) ;; *) cache=$PWD/$cache ;; esac

# The pulsar-io-kinesis release that matches the standalone (scripts/local-env.sh). Maven Central serves the NAR under
# the artifact's default (.jar) extension; the worker only cares about its content.
nar_version=4.0.8
nar=$cache/bench/pulsar-io-kinesis-$nar_version.nar
nar_args=(-nar "$nar")
if [[ ! -s $nar ]]; then
	mkdir -p "$cache/bench"
	echo "bench: fetching org.apache.pulsar:pulsar-io-kinesis:$nar_version from Maven Central" >&2
	tmp=$(mktemp -d)
	if out=$(mvn -q -B dependency:copy -Dartifact="org.apache.pulsar:pulsar-io-kinesis:$nar_version" \
		-DoutputDirectory="$tmp" ${KS_MAVEN_ARGS:-} 2>&1) && [[ -s $tmp/pulsar-io-kinesis-$nar_version.jar ]]; then
		mv "$tmp/pulsar-io-kinesis-$nar_version.jar" "$nar"
	else
		nar_args=(-nar-error "fetching org.apache.pulsar:pulsar-io-kinesis:$nar_version with Maven failed: $(printf '%s' "$out" | grep -m3 ERROR | tr '\n' ' ')")
	fi
	rm -rf "$tmp"
fi

cd "$repo"
exec "$here/lib/with-services.sh" go run ./scripts/bench "${nar_args[@]}" "$@"
