#!/usr/bin/env bash
# compat.sh: the worker end-to-end tests on every Pulsar line the sink supports (make test-compat; make test runs it
# too). For each line in KS_COMPAT_VERSIONS (default "3.3.6 4.0.8 5.0.1") it starts that line's standalone with its
# functions worker (scripts/local-env.sh with a state directory and ports of its own; the line of the shared
# services is used as it is), and runs against it, with the shared kinesalite:
#   - runtime TestDeployThroughFunctionsWorker: functions create --go, records through, functions status,
#     stop / start / delete ending the process;
#   - sink TestEveryFormatThroughTheRuntime with KS_SINK_VIA_WORKER=1: the sink deployed through the worker with
#     parallelism 2, all four message formats read back from Kinesis and compared byte for byte.
# It needs the services of scripts/local-env.sh in the environment (eval "$(scripts/local-env.sh env)", or run it
# inside scripts/lib/with-services.sh) and prints a line per line with the time it took.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
go=${GO:-go}
versions=${KS_COMPAT_VERSIONS:-"3.3.6 4.0.8 5.0.1"}
: "${KINESIS_ENDPOINT:?compat: KINESIS_ENDPOINT is not set; run inside scripts/lib/with-services.sh or after local-env.sh env}"
: "${PULSAR_WEB_URL:?compat: PULSAR_WEB_URL is not set}"
shared_version=${KS_PULSAR_VERSION:-4.0.8}

# Ports of the compat copies: away from the defaults and from CI's (.ci/run).
base_port=${KS_COMPAT_BASE_PORT:-26650}

# run_line VERSION OWN: the tests against one line; OWN=1 starts (and stops) a standalone of that line first.
run_line() {
	local v=$1 own=$2
	if ((own)); then
		export KS_STATE_DIR="$root/.cache/compat/state-$v" KS_PULSAR_VERSION=$v
		export KS_PULSAR_BROKER_PORT=$base_port KS_PULSAR_WEB_PORT=$((base_port + 1)) KS_PULSAR_BOOKIE_PORT=$((base_port + 2))
		trap 'scripts/local-env.sh down pulsar || true' EXIT
		scripts/local-env.sh up pulsar || return 1
		local kinesis=$KINESIS_ENDPOINT aws=${AWS_EMULATOR_ENDPOINT:-}
		eval "$(scripts/local-env.sh env)"
		# This copy runs Pulsar only; the emulators are the shared ones.
		export KINESIS_ENDPOINT=$kinesis AWS_EMULATOR_ENDPOINT=$aws
	fi
	export KS_REQUIRE_SERVICES=1
	"$go" test -count=1 -timeout 15m -run '^TestDeployThroughFunctionsWorker$' ./runtime/ &&
		KS_SINK_VIA_WORKER=1 "$go" test -count=1 -timeout 15m -run '^TestEveryFormatThroughTheRuntime$' ./sink/
}

results=()
failed=0
for v in $versions; do
	start=$SECONDS
	own=1
	if [[ $v == "$shared_version" ]]; then
		echo "compat: Pulsar $v: the shared services' standalone" >&2
		own=0
	else
		echo "compat: Pulsar $v: starting a standalone of its own" >&2
	fi
	status=ok
	(run_line "$v" "$own") || status=FAILED
	[[ $status == ok ]] || failed=1
	results+=("$v: $status in $((SECONDS - start))s")
done
echo "compat: Pulsar lines (worker deploy, status, stop/start/delete; four formats through a parallelism-2 deployment):"
printf '  %s\n' "${results[@]}"
exit $failed
