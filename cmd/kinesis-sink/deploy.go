package main

// `kinesis-sink deploy`: the flags; package internal/deploy does the work.

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// runDeploy runs `kinesis-sink deploy args...` and returns the exit code:
// 0 done, 1 refused or failed, 2 usage error.
func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr}
	return c.execute(append([]string{"deploy"}, args...))
}

// deployActions are the subcommands of deploy.
var deployActions = []string{"create", "update", "delete", "status"}

func (c *cli) deployCmd() *cobra.Command {
	o := &deploy.Options{}
	cmd := &cobra.Command{
		Use:   "deploy create|update|delete|status",
		Short: "Deploy the sink to a functions worker from a sink config file",
		Long: `deploy deploys the sink as a Pulsar Go function (pulsar-admin functions create
--go) from a pulsar-admin sink config file (tenant, namespace, name, inputs,
..., configs:): the file is checked first, then sent with this binary (or
--binary) through the worker's admin REST API.`,
		Example: `  kinesis-sink deploy create --admin-url http://localhost:8080 --sink-config-file kinesis-sink.yaml --wait 2m
  kinesis-sink deploy status --sink-config-file kinesis-sink.yaml
  kinesis-sink deploy delete --sink-config-file kinesis-sink.yaml --wait 30s`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("an action is required: %s", strings.Join(deployActions, ", "))
			}
			if cmd.SuggestionsMinimumDistance <= 0 {
				cmd.SuggestionsMinimumDistance = 2
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				return fmt.Errorf("unknown action %q; did you mean %q?", args[0], s[0])
			}
			return fmt.Errorf("unknown action %q; allowed: %s", args[0], strings.Join(deployActions, ", "))
		},
	}
	pf := cmd.PersistentFlags()
	pf.SortFlags = false
	pf.StringVar(&o.File, "sink-config-file", "", "pulsar-admin sink config file, YAML or JSON (required)")
	pf.StringVar(&o.AdminURL, "admin-url", "http://localhost:8080", "Pulsar admin (web service) URL")
	pf.StringVar(&o.AuthPlugin, "auth-plugin", "", "admin authentication: org.apache.pulsar.client.impl.auth.AuthenticationToken (or token) or ...AuthenticationTls (or tls)")
	pf.StringVar(&o.AuthParams, "auth-params", "", "authentication parameters: token:<jwt>, file:<path> for a token; tlsCertFile:<path>,tlsKeyFile:<path> for TLS")
	pf.StringVar(&o.TLSTrustCertPath, "tls-trust-cert-path", "", "PEM file of the CA certificates that sign the admin URL's certificate")
	pf.BoolVar(&o.TLSAllowInsecure, "tls-allow-insecure", false, "accept any admin server certificate")
	pf.BoolVar(&o.TLSHostnameVerification, "tls-enable-hostname-verification", false, "check the admin server certificate's host name (off by default, as in pulsar-admin)")
	_ = cmd.MarkPersistentFlagFilename("sink-config-file", "yaml", "yml", "json")
	_ = cmd.MarkPersistentFlagFilename("tls-trust-cert-path")
	_ = cmd.RegisterFlagCompletionFunc("auth-plugin", oneOf("token", "tls"))

	type action struct {
		name, short, example string
		flags                func(*cobra.Command)
	}
	binary := func(cmd *cobra.Command, what string) {
		cmd.Flags().StringVar(&o.Binary, "binary", "", what)
		_ = cmd.MarkFlagFilename("binary")
	}
	wait := func(cmd *cobra.Command, what string) {
		cmd.Flags().Var(durationFlag{&o.Wait}, "wait", what+" (e.g. 2m or 90s; 0: do not wait)")
	}
	dryRun := func(cmd *cobra.Command) {
		cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print the function config that would be sent, send nothing")
		cmd.Flags().BoolVar(&o.SkipConfigCheck, "skip-config-check", false, "send the configs: block without validating it as this sink's configuration")
	}
	for _, a := range []action{
		{"create", "Create the function from the file and upload the binary",
			"  kinesis-sink deploy create --admin-url http://localhost:8080 --sink-config-file kinesis-sink.yaml --wait 2m\n" +
				"  kinesis-sink deploy create --sink-config-file kinesis-sink.yaml --binary ./kinesis-sink-linux-arm64\n" +
				"  kinesis-sink deploy create --sink-config-file kinesis-sink.yaml --dry-run",
			func(cmd *cobra.Command) {
				binary(cmd, "Linux executable to upload (default: the file's archive if it is a local executable, else this executable)")
				wait(cmd, "wait this long for every instance to run")
				dryRun(cmd)
			}},
		{"update", "Update the function from the file (the binary too with --binary)",
			"  kinesis-sink deploy update --sink-config-file kinesis-sink.yaml --wait 2m\n" +
				"  kinesis-sink deploy update --sink-config-file kinesis-sink.yaml --binary bin/kinesis-sink",
			func(cmd *cobra.Command) {
				binary(cmd, "Linux executable to upload (default: none, the configuration only)")
				wait(cmd, "wait this long for every instance to run")
				dryRun(cmd)
			}},
		{"delete", "Delete the function the file names",
			"  kinesis-sink deploy delete --sink-config-file kinesis-sink.yaml --wait 30s",
			func(cmd *cobra.Command) { wait(cmd, "wait this long for the function to be gone") }},
		{"status", "Show the function's instances and their counters",
			"  kinesis-sink deploy status --sink-config-file kinesis-sink.yaml\n" +
				"  kinesis-sink deploy status --sink-config-file kinesis-sink.yaml --json",
			func(cmd *cobra.Command) {
				cmd.Flags().BoolVar(&o.JSONOut, "json", false, "print the worker's JSON")
			}},
	} {
		sub := &cobra.Command{
			Use:     a.name + " --sink-config-file FILE [flags]",
			Short:   a.short,
			Example: a.example,
			Args:    noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				o.Action = a.name
				o.BinarySet = cmd.Flags().Changed("binary")
				if err := deploy.Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", cmd.CommandPath(), errtext.OneLine(err.Error()))
					return exitCode(1)
				}
				return nil
			},
		}
		sub.Flags().SortFlags = false
		a.flags(sub)
		cmd.AddCommand(sub)
	}
	return cmd
}
