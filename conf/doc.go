// Package conf is the Kinesis sink's configuration: every key of Apache
// Pulsar's Java Kinesis sink (same JSON names, types and defaults, so a
// config written for it loads unchanged) plus the keys for what the Java sink
// lacks; loading from the function's userConfig (FromMap), from a file
// (FromFile, LoadSinkConfigFile), and validation with one-line errors.
//
// The keys and their documentation are the fields of Config; KEYS.md, the
// key reference the docs link to, is generated from their doc comments:
//
//	go test ./conf -run TestKeysDoc -update
//
// Differences from the Java sink, on purpose:
//   - Unknown keys are warnings, not errors (Jackson would fail).
//   - extraKinesisProducerConfig entries apply unless the matching key is
//     given at the top level. The Java sink always overwrote them with the
//     top-level values, defaults included, so only entries for settings it
//     did not set ever had an effect.
//   - Settings that only configure the KPL native daemon (nativeExecutable,
//     ThreadingModel, …) are accepted and ignored with a warning.
//   - awsEndpoint (and the STS and CloudWatch endpoints) may also be
//     host:port or an http(s) URL; the KPL took host names only.
//
// Secrets never appear in errors, warnings or printed values: the sensitive
// key has type Secret, and Config prints as redacted JSON.
package conf
