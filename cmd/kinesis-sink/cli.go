package main

// The command tree on spf13/cobra, and what the shell sees of it: help on
// stdout with exit 0, usage errors as one line with exit 2, a command's own
// failure as its one line with exit 1, and the single-dash flags that the
// functions worker, Function Mesh and the NAR's Java sink pass.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pulsar-kinesis/kinesis-sink/internal/deploy"
	"github.com/pulsar-kinesis/kinesis-sink/internal/version"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// exitCode is returned by a command that has already said what went wrong
// (or had nothing to say): the process exits with it and prints nothing more.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// status turns a command's exit code into what RunE returns.
func status(code int) error {
	if code == 0 {
		return nil
	}
	return exitCode(code)
}

// cli is the command tree's surroundings, replaceable in tests: where output
// goes, and what runs an instance once localrun has built its config.
type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
	runLocal       func(*deploy.Local, runtime.Options) int
}

// execute runs one command line and returns the process exit code.
func (c *cli) execute(args []string) int {
	root := c.rootCmd()
	if len(args) == 0 || args[0] != cobra.ShellCompRequestCmd && args[0] != cobra.ShellCompNoDescRequestCmd {
		args = doubleDash(root, args)
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(c.ctx)
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	// Anything else comes from parsing the command line.
	fmt.Fprintf(c.stderr, "%s: %s\n", cmd.CommandPath(), err)
	return 2
}

func (c *cli) rootCmd() *cobra.Command {
	var confJSON, confPath string
	root := &cobra.Command{
		Use:   prog,
		Short: "Move Apache Pulsar messages into Amazon Kinesis Data Streams",
		Long: `kinesis-sink moves Apache Pulsar messages into Amazon Kinesis Data Streams.

Pulsar's functions worker and Function Mesh start it as a Go function
(kinesis-sink -instance-conf <json>); deploy puts it there from a
pulsar-admin sink config file, localrun runs it by hand with the same file,
and the kinesis-go NAR's Java sink runs it as its child (sidecar).`,
		Example: `  # Deploy to a functions worker from a sink config file, and wait for it to run
  kinesis-sink deploy create --admin-url http://localhost:8080 --sink-config-file kinesis-sink.yaml --wait 2m

  # Run it here with the same file
  kinesis-sink localrun --service-url pulsar://localhost:6650 --sink-config-file kinesis-sink.yaml

  # What the functions worker runs
  kinesis-sink -instance-conf '{"pulsarServiceURL":"pulsar://localhost:6650",...}'`,
		Version:       version.String(prog),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			if isInstance(cmd) {
				return fmt.Errorf("unexpected argument %q", args[0])
			}
			return unknownCommand(cmd, args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !isInstance(cmd) {
				// Not a request for help, so the help goes where errors go.
				cmd.SetOut(c.stderr)
				_ = cmd.Usage()
				return exitCode(2)
			}
			return status(runtime.MainConf(prog, confJSON, confPath, newSink))
		},
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.Flags().StringVar(&confJSON, "instance-conf", "", "instance configuration as JSON, as the functions worker passes it (also -instance-conf)")
	root.Flags().StringVar(&confPath, "instance-conf-path", "", "instance configuration as a YAML file; --instance-conf is applied over it (also -instance-conf-path)")
	_ = root.MarkFlagFilename("instance-conf-path", "yaml", "yml")

	root.AddCommand(c.localrunCmd(), c.deployCmd(), c.sidecarCmd(), versionCmd())
	root.SetHelpCommand(helpCmd(root))
	root.InitDefaultCompletionCmd()
	for _, sub := range root.Commands() {
		if sub.Name() == "completion" {
			sub.Example = "  # bash, for this shell and every new one\n" +
				"  source <(kinesis-sink completion bash)\n" +
				"  kinesis-sink completion bash > /etc/bash_completion.d/kinesis-sink\n\n" +
				"  # zsh, fish\n" +
				"  kinesis-sink completion zsh > \"${fpath[1]}/_kinesis-sink\"\n" +
				"  kinesis-sink completion fish > ~/.config/fish/completions/kinesis-sink.fish"
			var shells []string
			for _, sh := range sub.Commands() {
				sh.Example = "  kinesis-sink completion " + sh.Name() + " --help   # how to load it"
				shells = append(shells, sh.Name())
			}
			// cobra's completion command shows its help for any argument.
			sub.Args = cobra.ArbitraryArgs
			sub.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return fmt.Errorf("a shell is required: %s", strings.Join(shells, ", "))
				}
				return unknownCommand(cmd, args[0])
			}
		}
	}
	return root
}

func isInstance(cmd *cobra.Command) bool {
	return cmd.Flags().Changed("instance-conf") || cmd.Flags().Changed("instance-conf-path")
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and Go toolchain of this binary",
		Example: "  kinesis-sink version\n  kinesis-sink --version",
		Args:    noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.String(prog))
		},
	}
}

// helpCmd replaces cobra's, which shows the top-level help for a command it
// does not know: here that is a usage error with a suggestion.
func helpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: "  kinesis-sink help deploy\n  kinesis-sink help deploy create",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			parent, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range parent.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

func unknownCommand(parent *cobra.Command, name string) error {
	if parent.SuggestionsMinimumDistance <= 0 {
		parent.SuggestionsMinimumDistance = 2
	}
	if s := parent.SuggestionsFor(name); len(s) > 0 {
		return fmt.Errorf("unknown command %q; did you mean %q?", name, s[0])
	}
	var names []string
	for _, sub := range parent.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return fmt.Errorf("unknown command %q; the commands are %s (see '%s --help')", name, strings.Join(names, ", "), parent.CommandPath())
}

// noArgs is cobra.NoArgs in this program's words.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	return nil
}

// flagError words pflag's errors as the rest of the program words its own:
// flags spelt with their dashes, a guess for a misspelt one.
func flagError(cmd *cobra.Command, err error) error {
	var notExist *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notExist):
		name := notExist.GetSpecifiedName()
		if notExist.GetSpecifiedShortnames() != "" {
			name = notExist.GetSpecifiedShortnames()
		}
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if s := closest(name, names); s != "" {
			return fmt.Errorf("unknown flag --%s; did you mean --%s?", name, s)
		}
		return fmt.Errorf("unknown flag --%s (see '%s --help')", name, cmd.CommandPath())
	case errors.As(err, &invalid):
		return fmt.Errorf("invalid argument %q for \"--%s\": %v", invalid.GetValue(), invalid.GetFlag().Name, errors.Unwrap(err))
	}
	return err
}

// closest is the candidate within two edits of name, if any.
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// doubleDash rewrites -name and -name=value to --name... for every long
// flag of the tree (and any other word of letters, so that a misspelt one is
// reported as an unknown flag, not as shorthand letters): Go's flag package
// took one dash or two, the worker passes -instance-conf, the NAR passes
// -metrics-addr, and scripts written before cobra use one dash. The value
// after a flag that takes one is never rewritten, so "--parallelism -1"
// still reaches the check that refuses it.
func doubleDash(root *cobra.Command, args []string) []string {
	takesValue := map[string]bool{"help": false, "version": false}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { takesValue[f.Name] = f.NoOptDefVal == "" })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if !strings.HasPrefix(a, "--") && len(name) > 1 && isLetter(name[0]) {
			a = "-" + a
		}
		out = append(out, a)
		if strings.HasPrefix(a, "--") && takesValue[strings.TrimPrefix(name, "-")] && !hasValue && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// durationFlag is a time.Duration flag whose error shows how to write one:
// "--wait 2" was read as a mistake but not explained.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return "0" // what pflag takes for a zero default, which it then does not show
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%v (use e.g. 2m or 90s)", err)
	}
	*f.d = d
	return nil
}

func (f durationFlag) Type() string { return "duration" }

// oneOf completes a flag from fixed words.
func oneOf(words ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return slices.Clone(words), cobra.ShellCompDirectiveNoFileComp
	}
}
