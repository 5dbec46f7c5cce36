package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// localrun runs the sink without a functions worker, like
// `pulsar-admin sinks localrun`: inputs and subscription from flags or from
// the sink config file, the sink configuration from its configs: block (or
// from a plain file of sink keys).
func localrun(args []string) int {
	fs := flag.NewFlagSet(prog+" localrun", flag.ContinueOnError)
	serviceURL := fs.String("service-url", "pulsar://127.0.0.1:6650", "Pulsar broker service URL")
	inputs := fs.String("inputs", "", "comma-separated input topics (default: the file's inputs)")
	pattern := fs.String("topics-pattern", "", "regex of input topics (default: the file's topicsPattern)")
	sub := fs.String("subscription", "", "subscription name (default: the file's sourceSubscriptionName, else tenant/namespace/name)")
	position := fs.String("subscription-position", "", "Latest or Earliest for a new subscription (default: the file's, else Latest)")
	subType := fs.String("subscription-type", "", "Shared, Failover or Key_Shared (default Shared; Failover when retainOrdering)")
	file := fs.String("sink-config-file", "", "pulsar-admin sink config file (YAML/JSON with a configs: block) or a file of sink keys")
	tenant := fs.String("tenant", "", "tenant (default: the file's, else public)")
	namespace := fs.String("namespace", "", "namespace (default: the file's, else default)")
	name := fs.String("name", "", "name (default: the file's, else kinesis-sink)")
	parallelism := fs.Int("parallelism", 0, "how many instances of this function run, this one included (default: the file's parallelism, else 1); rateLimitScope function divides the rate limit by it")
	instanceID := fs.Int("instance-id", 0, "this instance's index, 0 to parallelism-1")
	metricsPort := fs.Int("metrics-port", 0, "serve Prometheus metrics on this port (0: off)")
	port := fs.Int("port", 0, "serve gRPC InstanceControl on this port (0: off)")
	authPlugin := fs.String("client-auth-plugin", "", "Pulsar client authentication plugin")
	authParams := fs.String("client-auth-params", "", "Pulsar client authentication parameters")
	trust := fs.String("tls-trust-cert-path", "", "TLS trust certificate file")
	insecure := fs.Bool("tls-allow-insecure", false, "accept untrusted TLS certificates from the broker")
	hostVerify := fs.Bool("tls-enable-hostname-verification", false, "verify the broker's TLS host name")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "%s localrun: %s\n", prog, fmt.Sprintf(format, a...))
		return 1
	}
	if *file == "" {
		return fail("--sink-config-file is required")
	}
	sf, userConfig, err := loadLocalrunFile(*file)
	if err != nil {
		return fail("%v", err)
	}
	cfg := &runtime.InstanceConfig{
		Tenant: pick(*tenant, sf.Tenant, "public"), Namespace: pick(*namespace, sf.Namespace, "default"),
		Name: pick(*name, sf.Name, "kinesis-sink"), ServiceURL: *serviceURL,
		Port: *port, MetricsPort: *metricsPort, AutoAck: true, Parallelism: 1, InstanceID: *instanceID,
		UserConfig: userConfig, AuthPlugin: *authPlugin, AuthParams: *authParams,
		TLSTrustCertsFilePath: *trust, TLSAllowInsecureConnection: *insecure, TLSHostnameVerification: *hostVerify,
	}
	switch {
	case *parallelism > 0:
		cfg.Parallelism = *parallelism
	case *parallelism < 0:
		return fail("--parallelism: must be at least 1, got %d", *parallelism)
	case sf.Parallelism != nil:
		cfg.Parallelism = *sf.Parallelism
	}
	if *instanceID < 0 || *instanceID >= cfg.Parallelism {
		return fail("--instance-id: must be 0 to %d (parallelism %d), got %d", cfg.Parallelism-1, cfg.Parallelism, *instanceID)
	}
	cfg.SubscriptionName = pick(*sub, sf.SourceSubscriptionName, cfg.FQFN())
	switch strings.ToLower(pick(*position, sf.SourceSubscriptionPosition, "latest")) {
	case "latest":
	case "earliest":
		cfg.SubscriptionPosition = runtime.Earliest
	default:
		return fail("--subscription-position: must be Latest or Earliest, got %q", *position)
	}
	switch strings.ToLower(*subType) {
	case "", "shared":
	case "failover":
		cfg.SubscriptionType = runtime.Failover
	case "key_shared", "keyshared":
		cfg.SubscriptionType = runtime.KeyShared
	default:
		return fail("--subscription-type: must be Shared, Failover or Key_Shared, got %q", *subType)
	}
	if sf.RetainOrdering != nil && *sf.RetainOrdering {
		cfg.RetainOrdering = true
		// What the runtime subscribes with anyway; set here so that the
		// "subscribed" log line says FAILOVER, not the unset SHARED.
		if *subType == "" {
			cfg.SubscriptionType = runtime.Failover
		}
	}
	if sf.TimeoutMs != nil {
		cfg.AckTimeout = time.Duration(*sf.TimeoutMs) * time.Millisecond
	}
	if sf.NegativeAckRedeliveryDelayMs != nil {
		cfg.NegativeAckRedeliveryDelay = time.Duration(*sf.NegativeAckRedeliveryDelayMs) * time.Millisecond
	}
	switch strings.ToUpper(sf.ProcessingGuarantees) {
	case "", "ATLEAST_ONCE":
	case "ATMOST_ONCE":
		cfg.ProcessingGuarantees = runtime.AtMostOnce
	case "MANUAL":
		cfg.ProcessingGuarantees = runtime.Manual
	default:
		return fail("processingGuarantees: %s is not supported; use ATLEAST_ONCE", sf.ProcessingGuarantees)
	}
	topics := sf.Inputs
	if *inputs != "" {
		topics = strings.Split(*inputs, ",")
	}
	for _, t := range topics {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Inputs = append(cfg.Inputs, runtime.InputSpec{Topic: t})
		}
	}
	if p := pick(*pattern, sf.TopicsPattern, ""); p != "" {
		cfg.Inputs = append(cfg.Inputs, runtime.InputSpec{Topic: p, IsRegex: true})
	}
	if len(cfg.Inputs) == 0 {
		return fail("no input topics: give --inputs or --topics-pattern, or inputs: in the sink config file")
	}
	return runtime.RunUntilSignal(prog, cfg, newSink(), runtime.Options{
		DisableControlServer: *port == 0, DisableMetricsServer: *metricsPort == 0,
		Secret: secretsFrom(sf),
	})
}

// loadLocalrunFile reads a pulsar-admin sink config file, or a plain file
// of sink keys (then the returned SinkConfigFile is empty).
func loadLocalrunFile(path string) (*conf.SinkConfigFile, map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var probe map[string]any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	if _, ok := probe["configs"]; ok {
		sf, err := conf.LoadSinkConfigFile(path)
		if err != nil {
			return nil, nil, err
		}
		return sf, sf.Configs, nil
	}
	return &conf.SinkConfigFile{}, probe, nil
}

// secretsFrom resolves secrets from the file's secrets: block (clear text,
// as pulsar-admin's local run), then from the environment.
func secretsFrom(sf *conf.SinkConfigFile) func(string) (string, bool) {
	clear := sf.ClearTextSecrets()
	return func(name string) (string, bool) {
		if v, ok := clear(name); ok {
			return v, true
		}
		return os.LookupEnv(name)
	}
}

func pick(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
