package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// runLocalrun runs `kinesis-sink localrun args...` with run in place of the
// instance, for tests.
func runLocalrun(args []string, stdout, stderr io.Writer, run func(*deploy.Local, runtime.Options) int) int {
	c := &cli{ctx: context.Background(), stdout: stdout, stderr: stderr, runLocal: run}
	return c.execute(append([]string{"localrun"}, args...))
}

// localrunCmd runs the sink without a functions worker, like
// `pulsar-admin sinks localrun`; package internal/deploy reads the file
// exactly as `deploy` does.
func (c *cli) localrunCmd() *cobra.Command {
	var o deploy.LocalOptions
	var inputs string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "localrun --sink-config-file FILE [flags]",
		Short: "Run the sink here, reading a sink config file as deploy does",
		Long: `localrun runs one instance of the sink in this process, without a functions
worker, like pulsar-admin sinks localrun. It reads the sink config file as
deploy does (the same fields, notes and errors), then connects to the broker
and to Kinesis. Flags replace the file's fields. Ctrl-C stops it.`,
		Example: `  kinesis-sink localrun --service-url pulsar://localhost:6650 --sink-config-file kinesis-sink.yaml

  # Other topics, a second instance of two
  kinesis-sink localrun --sink-config-file kinesis-sink.yaml --inputs orders,payments --parallelism 2 --instance-id 1

  # The instance config it would run with, connecting to nothing
  kinesis-sink localrun --sink-config-file kinesis-sink.yaml --dry-run`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			fail := func(msg string) error {
				fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), errtext.OneLine(msg))
				return exitCode(1)
			}
			if o.File == "" {
				return fail("--sink-config-file is required")
			}
			if err := runtime.CheckServiceURL("--service-url", o.ServiceURL); err != nil {
				return fail(err.Error())
			}
			for _, t := range strings.Split(inputs, ",") {
				if t = strings.TrimSpace(t); t != "" {
					o.Inputs = append(o.Inputs, t)
				}
			}
			l, notes, err := deploy.LocalInstance(&o)
			for _, n := range notes {
				fmt.Fprintf(stderr, "note: %s\n", n)
			}
			if err != nil {
				return fail(err.Error())
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", l.DryRun())
				return nil
			}
			return status(c.runLocal(l, runtime.Options{DisableControlServer: o.Port == 0, DisableMetricsServer: o.MetricsPort == 0, Secret: l.Secret}))
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&o.File, "sink-config-file", "", "pulsar-admin sink config file (YAML/JSON with a configs: block), read as deploy reads it, or a file of sink keys (required)")
	fs.StringVar(&o.ServiceURL, "service-url", "pulsar://127.0.0.1:6650", "Pulsar broker service URL (pulsar:// or pulsar+ssl://)")
	fs.StringVar(&inputs, "inputs", "", "comma-separated input topics, replacing the file's inputs (the topics of its inputSpecs and topicsPattern are read too)")
	fs.StringVar(&o.TopicsPattern, "topics-pattern", "", "regex of input topics (default: the file's topicsPattern)")
	fs.StringVar(&o.SubscriptionName, "subscription", "", "subscription name (default: the file's sourceSubscriptionName, else tenant/namespace/name)")
	fs.StringVar(&o.SubscriptionPosition, "subscription-position", "", "Latest or Earliest for a new subscription (default: the file's sourceSubscriptionPosition, else Latest)")
	fs.StringVar(&o.SubscriptionType, "subscription-type", "", "Shared, Failover or Key_Shared (default: Failover when the file has retainOrdering: true, Key_Shared when it has retainKeyOrdering: true, else Shared)")
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
	fs.BoolVar(&dryRun, "dry-run", false, "print the instance config it would run with, connect to nothing")
	_ = cmd.MarkFlagFilename("sink-config-file", "yaml", "yml", "json")
	_ = cmd.MarkFlagFilename("tls-trust-cert-path")
	_ = cmd.RegisterFlagCompletionFunc("subscription-type", oneOf("Shared", "Failover", "Key_Shared"))
	_ = cmd.RegisterFlagCompletionFunc("subscription-position", oneOf("Latest", "Earliest"))
	return cmd
}
