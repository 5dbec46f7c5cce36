#!/usr/bin/env bash
# fault-suite.sh [suite|soak]: run the fault suite (internal/faultsuite TestFaultSuite) or the soak (TestSoak)
# against the services named by the environment (scripts/local-env.sh env; make test-faults and make soak run it
# inside scripts/lib/with-services.sh). The suite runs alone: it loads the machine and restarts a Pulsar copy of its
# own. Settings are the KS_FAULTS_* / KS_SOAK_* variables documented in internal/faultsuite/doc.go; the binary under
# test defaults to bin/kinesis-sink (make build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
go=${GO:-go}
export KS_FAULTS_SINK_BIN=${KS_FAULTS_SINK_BIN:-$root/bin/kinesis-sink}
[[ -x $KS_FAULTS_SINK_BIN ]] || {
	echo "fault-suite: $KS_FAULTS_SINK_BIN is missing; run make build first" >&2
	exit 1
}
export KS_FAULTS_LOG_DIR=${KS_FAULTS_LOG_DIR:-$root/.cache/fault-logs}
# KS_FAULTS_SINKS (go, nar, java, comma-separated) picks the sinks; java is Apache Pulsar's Java Kinesis sink, whose
# NAR this fetches.
if [[ ${KS_FAULTS_SINKS:-go} == *java* && -z ${KS_FAULTS_JAVA_NAR:-} ]]; then
	KS_FAULTS_JAVA_NAR=$("$root/scripts/lib/java-sink-nar.sh")
	export KS_FAULTS_JAVA_NAR
fi

case ${1:-suite} in
suite)
	# -parallel: the Kinesis-side scenarios share one kinesalite and two cores with the broker.
	KS_FAULTS=1 exec "$go" test -count=1 -v -parallel "${KS_FAULTS_PARALLEL:-4}" -timeout 60m \
		-run '^(TestFaultSuite|TestSharedRateBudget)$' ./internal/faultsuite/
	;;
soak)
	KS_SOAK=1 exec "$go" test -count=1 -v -timeout 0 -run '^TestSoak$' ./internal/faultsuite/
	;;
*)
	echo "usage: $0 [suite|soak]" >&2
	exit 2
	;;
esac
