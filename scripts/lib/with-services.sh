#!/usr/bin/env bash
# with-services.sh COMMAND [ARGS...]: run COMMAND against the local services.
#
# Starts them (scripts/local-env.sh up, which installs on first use), exports their addresses (local-env.sh env)
# and KS_REQUIRE_SERVICES=1, so that an integration test fails instead of skipping when a service is missing, runs
# COMMAND, and then stops the services again whatever COMMAND's outcome, preserving its exit status. Services that
# were already up before (a developer's `make up`) are left running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
local_env="$here/../local-env.sh"

if (($# == 0)); then
	echo "usage: $0 command [args...]" >&2
	exit 2
fi

# Only what this run starts is stopped afterwards.
ours=()
for svc in pulsar kinesalite moto; do
	if "$local_env" is-up "$svc"; then
		echo "with-services: $svc was already running; it will be left running" >&2
	else
		ours+=("$svc")
	fi
done

stop_services() {
	((${#ours[@]})) || return 0
	if ! "$local_env" down "${ours[@]}"; then
		echo "with-services: warning: scripts/local-env.sh down failed; see scripts/local-env.sh status" >&2
	fi
}
# An interrupted run still stops what it started. The command runs in the background (bash defers traps while a
# foreground child runs) in a session of its own, so that the whole tree it forks (go test and its test binaries)
# can be signalled as one process group; SIGTERM is used because background jobs of a script ignore SIGINT.
child=""
# shellcheck disable=SC2317 # invoked by the traps below
on_signal() {
	trap - INT TERM
	if [[ -n $child ]]; then
		kill -TERM -- "-$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	stop_services
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

rc=0
if "$local_env" up; then
	eval "$("$local_env" env)"
	export KS_REQUIRE_SERVICES=1
	setsid "$@" &
	child=$!
	wait "$child" || rc=$?
	child=""
else
	rc=$?
	echo "with-services: the local services did not start (exit $rc); not running: $*" >&2
fi
trap - INT TERM
stop_services
exit "$rc"
