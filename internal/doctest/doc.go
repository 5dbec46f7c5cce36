// Package doctest runs the shell blocks of the README and the docs that a
// user types, against the local services, so that a command that stops
// working fails make test. Its tests are the package.
//
// Every sh or bash block carries a marker on the line before its fence:
//
//	<!-- doc-test: run -->                      run it; it must exit 0
//	<!-- doc-test: run; cleanup: COMMAND -->    run it, then COMMAND (it must succeed)
//	<!-- doc-test: run; check: NAME -->         run it, then the Go check NAME of the test
//	<!-- doc-test: skip (REASON) -->            not run, and why
//
// Options are separated by "; ", so a cleanup command holds no ";" (join
// commands with && instead).
//
// A run block is executed by bash with -e in a directory that mirrors the
// repository (bin/kinesis-sink freshly built), with $PULSAR_HOME/bin on the
// PATH; only the service addresses are substituted (127.0.0.1:8080, :6650,
// :4567 and :5000 for the addresses of the services the tests run against),
// and pulsar-admin gets the web service and broker URLs through its client
// config (PULSAR_CLIENT_CONF), as a user's installation is configured.
package doctest
