#!/usr/bin/env bash
# `make demo`: start the local services (Pulsar standalone with its functions worker, kinesalite, moto), deploy
# bin/kinesis-sink through the worker once per message format, publish records with STRING, JSON, AVRO and
# KEY_VALUE schemas, and print what reached Kinesis plus the functions' status; then deploy the kinesis-go NAR with
# pulsar-admin sinks create and show it writes the same bytes. See scripts/demo/main.go.
#
# The services stay up afterwards so that the functions can be looked at; `make down` stops them. Re-running is
# safe: the demo replaces the functions, topics and streams of the previous run.
#
# Settings: those of scripts/local-env.sh (e.g. KS_EXTERNAL_PULSAR=1 PULSAR_HOME=... to use a Pulsar that already
# runs), and GO (default go).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}

scripts/local-env.sh up
eval "$(scripts/local-env.sh env)"

if [[ ! -x bin/kinesis-sink ]]; then
	echo "demo: bin/kinesis-sink is missing; building it" >&2
	make build
fi

# The kinesis-go NAR (section 4 of the demo: the same engine through pulsar-admin sinks create).
mkdir -p .cache/demo
if ARCHES=$("$GO" env GOARCH) scripts/build-nar.sh .cache/demo/pulsar-io-kinesis-go.nar >/dev/null; then
	export KS_DEMO_NAR=$PWD/.cache/demo/pulsar-io-kinesis-go.nar
else
	echo "demo: building the kinesis-go NAR failed (see above); the demo skips its section" >&2
fi

"$GO" run ./scripts/demo
echo "The services are still running; stop them with: make down"
