#!/usr/bin/env bash
# java-sink-nar.sh: prints the path of Apache Pulsar's Kinesis sink NAR (org.apache.pulsar:pulsar-io-kinesis, the
# release that matches the standalone of scripts/local-env.sh), fetching it with Maven into the cache on first use.
# On failure it prints why on stderr and exits 1. Used by make bench and by the fault suite's Java rows.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${KS_CACHE_DIR:-$repo/.cache}
case $cache in /*) ;; *) cache=$PWD/$cache ;; esac

version=${KS_JAVA_SINK_VERSION:-4.0.8}
nar=$cache/bench/pulsar-io-kinesis-$version.nar
if [[ ! -s $nar ]]; then
	mkdir -p "$cache/bench"
	echo "java-sink-nar: fetching org.apache.pulsar:pulsar-io-kinesis:$version from Maven Central" >&2
	tmp=$(mktemp -d)
	# Maven Central serves the NAR under the artifact's default (.jar) extension; the worker only cares about its
	# content.
	# shellcheck disable=SC2086 # KS_MAVEN_ARGS is a list of arguments
	if out=$(mvn -q -B dependency:copy -Dartifact="org.apache.pulsar:pulsar-io-kinesis:$version" \
		-DoutputDirectory="$tmp" ${KS_MAVEN_ARGS:-} 2>&1) && [[ -s $tmp/pulsar-io-kinesis-$version.jar ]]; then
		mv "$tmp/pulsar-io-kinesis-$version.jar" "$nar"
		rm -rf "$tmp"
	else
		rm -rf "$tmp"
		echo "fetching org.apache.pulsar:pulsar-io-kinesis:$version with Maven failed: $(printf '%s' "$out" | grep -m3 ERROR | tr '\n' ' ')" >&2
		exit 1
	fi
fi
printf '%s\n' "$nar"
