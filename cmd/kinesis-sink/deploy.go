package main

// `kinesis-sink deploy`: the flags; package internal/deploy does the work.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// deployCmd runs `kinesis-sink deploy <action> [flags]` and returns the exit
// code: 0 done, 1 refused or failed, 2 usage error.
func deployCmd(args []string) int {
	return runDeploy(context.Background(), args, os.Stdout, os.Stderr)
}

// deployActions are the subcommands of deploy.
var deployActions = []string{"create", "update", "delete", "status"}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, `Usage: %[1]s deploy create|update|delete|status --sink-config-file FILE [flags]

Deploys the sink as a Pulsar Go function (pulsar-admin functions create --go),
from a pulsar-admin sink config file (tenant, namespace, name, inputs, ...,
configs:).

Flags:
`, prog)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		for _, a := range args {
			if a == "-h" || a == "-help" || a == "--help" {
				usage()
				deployFlags(&deploy.Options{}, stderr).PrintDefaults()
				return 0
			}
		}
		usage()
		fmt.Fprintf(stderr, "\n%s deploy: an action is required: %s\n", prog, strings.Join(deployActions, ", "))
		return 2
	}
	o := &deploy.Options{Action: args[0]}
	if !slices.Contains(deployActions, o.Action) {
		fmt.Fprintf(stderr, "%s deploy: unknown action %q; allowed: %s\n", prog, o.Action, strings.Join(deployActions, ", "))
		return 2
	}
	fs := deployFlags(o, stderr)
	fs.Usage = func() { usage(); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s deploy %s: unexpected argument %q\n", prog, o.Action, fs.Arg(0))
		return 2
	}
	fs.Visit(func(f *flag.Flag) { o.BinarySet = o.BinarySet || f.Name == "binary" })

	if err := deploy.Run(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s deploy %s: %s\n", prog, o.Action, errtext.OneLine(err.Error()))
		return 1
	}
	return 0
}

func deployFlags(o *deploy.Options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.AdminURL, "admin-url", "http://localhost:8080", "Pulsar admin (web service) URL")
	fs.StringVar(&o.File, "sink-config-file", "", "pulsar-admin sink config file, YAML or JSON (required)")
	fs.StringVar(&o.Binary, "binary", "", "Linux executable to upload (create: default the file's archive if it is a local executable, else this executable; update: uploads only when given)")
	fs.StringVar(&o.AuthPlugin, "auth-plugin", "", "admin authentication: org.apache.pulsar.client.impl.auth.AuthenticationToken (or token) or ...AuthenticationTls (or tls)")
	fs.StringVar(&o.AuthParams, "auth-params", "", "authentication parameters: token:<jwt>, file:<path> for a token; tlsCertFile:<path>,tlsKeyFile:<path> for TLS")
	fs.StringVar(&o.TLSTrustCertPath, "tls-trust-cert-path", "", "PEM file of the CA certificates that sign the admin URL's certificate")
	fs.BoolVar(&o.TLSAllowInsecure, "tls-allow-insecure", false, "accept any admin server certificate")
	fs.BoolVar(&o.TLSHostnameVerification, "tls-enable-hostname-verification", false, "check the admin server certificate's host name (off by default, as in pulsar-admin)")
	fs.BoolVar(&o.SkipConfigCheck, "skip-config-check", false, "send the configs: block without validating it as this sink's configuration")
	fs.DurationVar(&o.Wait, "wait", 0, "create/update: wait this long for every instance to run; delete: for the function to be gone (0: do not wait)")
	fs.BoolVar(&o.JSONOut, "json", false, "status: print the worker's JSON")
	fs.BoolVar(&o.DryRun, "dry-run", false, "create/update: print the function config that would be sent, send nothing")
	return fs
}
