package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// localrun runs the sink without a functions worker, like
// `pulsar-admin sinks localrun`; package internal/deploy reads the file
// exactly as `deploy` does.
func localrun(args []string) int {
	return runLocalrun(args, os.Stdout, os.Stderr, func(l *deploy.Local, o runtime.Options) int {
		return runtime.RunUntilSignal(prog, l.Config, newSink(), o)
	})
}

func runLocalrun(args []string, stdout, stderr io.Writer, run func(*deploy.Local, runtime.Options) int) int {
	var o deploy.LocalOptions
	fs := flag.NewFlagSet(prog+" localrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.File, "sink-config-file", "", "pulsar-admin sink config file (YAML/JSON with a configs: block), read as `deploy` reads it, or a file of sink keys (required)")
	fs.StringVar(&o.ServiceURL, "service-url", "pulsar://127.0.0.1:6650", "Pulsar broker service URL")
	inputs := fs.String("inputs", "", "comma-separated input topics, replacing the file's inputs (the topics of its inputSpecs and topicsPattern are read too)")
	fs.StringVar(&o.TopicsPattern, "topics-pattern", "", "regex of input topics (default: the file's topicsPattern)")
	fs.StringVar(&o.SubscriptionName, "subscription", "", "subscription name (default: the file's sourceSubscriptionName, else tenant/namespace/name)")
	fs.StringVar(&o.SubscriptionPosition, "subscription-position", "", "Latest or Earliest for a new subscription (default: the file's sourceSubscriptionPosition, else Latest)")
	fs.StringVar(&o.SubscriptionType, "subscription-type", "", "Shared, Failover or Key_Shared (default: Failover when the file has retainOrdering: true, else Shared)")
	fs.StringVar(&o.Tenant, "tenant", "", "tenant (default: the file's, else public)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace (default: the file's, else default)")
	fs.StringVar(&o.Name, "name", "", "name (default: the file's, else kinesis-sink)")
	fs.IntVar(&o.Parallelism, "parallelism", 0, "how many instances of this function run, this one included (default: the file's parallelism, else 1); rateLimitScope function divides the rate limit by it")
	fs.IntVar(&o.InstanceID, "instance-id", 0, "this instance's index, 0 to parallelism-1")
	fs.IntVar(&o.MetricsPort, "metrics-port", 0, "serve Prometheus metrics on this port (0: off)")
	fs.IntVar(&o.Port, "port", 0, "serve gRPC InstanceControl on this port (0: off)")
	fs.StringVar(&o.AuthPlugin, "client-auth-plugin", "", "Pulsar client authentication plugin")
	fs.StringVar(&o.AuthParams, "client-auth-params", "", "Pulsar client authentication parameters")
	fs.StringVar(&o.TLSTrustCertPath, "tls-trust-cert-path", "", "TLS trust certificate file")
	fs.BoolVar(&o.TLSAllowInsecure, "tls-allow-insecure", false, "accept untrusted TLS certificates from the broker")
	fs.BoolVar(&o.TLSHostnameVerification, "tls-enable-hostname-verification", false, "verify the broker's TLS host name")
	dryRun := fs.Bool("dry-run", false, "print the instance config it would run with, connect to nothing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s localrun: unexpected argument %q\n", prog, fs.Arg(0))
		return 2
	}
	if o.File == "" {
		fmt.Fprintf(stderr, "%s localrun: --sink-config-file is required\n", prog)
		return 1
	}
	for _, t := range strings.Split(*inputs, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.Inputs = append(o.Inputs, t)
		}
	}
	l, notes, err := deploy.LocalInstance(&o)
	for _, n := range notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s localrun: %s\n", prog, errtext.OneLine(err.Error()))
		return 1
	}
	if *dryRun {
		fmt.Fprintf(stdout, "%s\n", l.DryRun())
		return 0
	}
	return run(l, runtime.Options{DisableControlServer: o.Port == 0, DisableMetricsServer: o.MetricsPort == 0, Secret: l.Secret})
}
