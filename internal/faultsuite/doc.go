// Package faultsuite holds the fault suite (`make test-faults`, and a short
// run at the end of `make test`) and the soak run (`make soak`).
//
// Every scenario runs the real product binary (bin/kinesis-sink localrun, the
// real runtime) as a separate process against a real Pulsar standalone and
// a real kinesalite, with internal/faultproxy between the sink and
// kinesalite: kinesalite never throttles, never fails part of a PutRecords
// call and cannot be made slow or unreachable, so the proxy injects those
// faults while the records that get through are stored by the emulator and
// read back from it. Each scenario publishes records with unique ids, reads
// every shard of its stream back (de-aggregating KPL records) and reports
// missing, duplicated and, with retainOrdering, out-of-order records.
//
// The tests only run when asked (KS_FAULTS=1, KS_SOAK=1), so that `go test
// ./...` never runs them next to other packages: the broker-restart scenario
// stops and starts a Pulsar, and the others load the machine. That Pulsar is
// a copy of its own (scripts/local-env.sh with a state directory and ports of
// its own), so the suite never restarts the services other tests use.
//
// Settings (environment):
//
//	KS_FAULTS=1             run TestFaultSuite
//	KS_FAULTS_N             records per scenario (default 20000)
//	KS_FAULTS_PUBLISH_SECONDS  how long each scenario spreads its publishing over (default 15)
//	KS_FAULTS_SEED          seed of every random choice (default: from the clock; printed)
//	KS_FAULTS_AGGREGATION   aggregationEnabled of the sinks under test: true or false (default: unset, the sink's
//	                        default, which is on); aggregated records are read back de-aggregated
//	KS_FAULTS_LOG_DIR       where every sink process's stdout/stderr, the broker copy's local-env output and
//	                        results.txt go (default <repo>/.cache/fault-logs; emptied of the suite's files first)
//	KS_FAULTS_SINK_BIN      the binary under test (default: built from this checkout)
//	KS_FAULTS_SINKS         which sinks run the scenarios, comma-separated: go (default: localrun of the binary),
//	                        nar (this sink's NAR, built from the checkout, or KINESIS_SINK_NAR) and java (Apache
//	                        Pulsar's Kinesis sink NAR); the NARs are deployed with pulsar-admin sinks create through
//	                        the functions worker; java is reached through a TLS front of the proxy (the KPL speaks
//	                        HTTPS only) and its figures are reported, not asserted, with the records it left neither
//	                        acked nor failed; go and nar fail the suite on a missing or reordered record
//	KS_FAULTS_JAVA_NAR      that NAR (scripts/fault-suite.sh fetches it with Maven when java is asked for)
//	KS_FAULTS_JAVA_DRAIN    how long a Java run waits for its backlog to drain before counting what is left (default 2m)
//	KS_FAULTS_KEEP_PULSAR=1 keep the broker-restart scenario's Pulsar state directory (logs) for a post-mortem
//	KS_SOAK=1               run TestSoak
//	KS_SOAK_DURATION        how long the soak publishes (default 30m)
//	KS_SOAK_RATE            records per second during the soak (default 200)
package faultsuite
