package main

// `kinesis-sink deploy`: create, update, delete or inspect the sink as a Go
// function through the Pulsar admin REST API, from the same sink config file
// a Java sink user gives to `pulsar-admin sinks create`.
//
// Why a function and not a sink: the worker's sink path only runs Java
// connectors (it looks for a Sink class in a NAR), while the function path
// runs any Linux executable as runtime GO (docs/functions-contract.md §7). So the file's
// SinkConfig fields are translated to a FunctionConfig, and the options the
// worker refuses for Go functions are either mapped onto what the sink does
// itself or refused here, before anything is uploaded.
//
// The REST calls are made directly rather than through pulsaradmin: its
// FunctionConfig always sends cleanupSubscription (so "unset", which the
// worker turns into true, cannot be expressed) and it cannot send the
// binary with a known Content-Length, which redirects between workers need.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/conf"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// deploy runs `kinesis-sink deploy <action> [flags]` and returns the exit
// code: 0 done, 1 refused or failed, 2 usage error.
func deploy(args []string) int {
	return runDeploy(context.Background(), args, os.Stdout, os.Stderr)
}

// deployActions are the subcommands of deploy.
var deployActions = []string{"create", "update", "delete", "status"}

// deployOptions are the flags of deploy.
type deployOptions struct {
	action string
	// adminURL is the Pulsar web service (admin REST) URL; pulsar-admin's
	// default when not given.
	adminURL string
	// file is the pulsar-admin sink config file.
	file string
	// binary is the Linux executable to upload. Create defaults to the file's
	// archive (when it names a local Go executable) and then to this
	// executable; update uploads only when one of them is given explicitly.
	binary string
	// authPlugin and authParams are pulsar-admin's --auth-plugin and
	// --auth-params (token and TLS client-certificate authentication).
	authPlugin, authParams string
	// tlsTrustCertPath is a PEM file of CA certificates for an https admin
	// URL; the system pool when empty.
	tlsTrustCertPath string
	// tlsAllowInsecure accepts any server certificate.
	tlsAllowInsecure bool
	// tlsHostnameVerification checks the server certificate's host name; off
	// by default, as in pulsar-admin.
	tlsHostnameVerification bool
	// skipConfigCheck deploys the configs: block without validating it as
	// this sink's configuration (for a different executable, e.g. a test
	// build).
	skipConfigCheck bool
	// wait, when positive, makes create and update wait until every
	// instance runs, and delete until the function is gone.
	wait time.Duration
	// jsonOut prints status as the worker's JSON.
	jsonOut bool
	// dryRun prints the FunctionConfig that would be sent and stops.
	dryRun bool
}

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
				deployFlags(&deployOptions{}, stderr).PrintDefaults()
				return 0
			}
		}
		usage()
		fmt.Fprintf(stderr, "\n%s deploy: an action is required: %s\n", prog, strings.Join(deployActions, ", "))
		return 2
	}
	o := &deployOptions{action: args[0]}
	if !slices.Contains(deployActions, o.action) {
		fmt.Fprintf(stderr, "%s deploy: unknown action %q; allowed: %s\n", prog, o.action, strings.Join(deployActions, ", "))
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
		fmt.Fprintf(stderr, "%s deploy %s: unexpected argument %q\n", prog, o.action, fs.Arg(0))
		return 2
	}
	binarySet := false
	fs.Visit(func(f *flag.Flag) { binarySet = binarySet || f.Name == "binary" })

	d := &deployer{opts: o, stdout: stdout, stderr: stderr}
	if err := d.run(ctx, binarySet); err != nil {
		fmt.Fprintf(stderr, "%s deploy %s: %s\n", prog, o.action, errtext.OneLine(err.Error()))
		return 1
	}
	return 0
}

func deployFlags(o *deployOptions, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.adminURL, "admin-url", "http://localhost:8080", "Pulsar admin (web service) URL")
	fs.StringVar(&o.file, "sink-config-file", "", "pulsar-admin sink config file, YAML or JSON (required)")
	fs.StringVar(&o.binary, "binary", "", "Linux executable to upload (create: default the file's archive if it is a local executable, else this executable; update: uploads only when given)")
	fs.StringVar(&o.authPlugin, "auth-plugin", "", "admin authentication: org.apache.pulsar.client.impl.auth.AuthenticationToken (or token) or ...AuthenticationTls (or tls)")
	fs.StringVar(&o.authParams, "auth-params", "", "authentication parameters: token:<jwt>, file:<path> for a token; tlsCertFile:<path>,tlsKeyFile:<path> for TLS")
	fs.StringVar(&o.tlsTrustCertPath, "tls-trust-cert-path", "", "PEM file of the CA certificates that sign the admin URL's certificate")
	fs.BoolVar(&o.tlsAllowInsecure, "tls-allow-insecure", false, "accept any admin server certificate")
	fs.BoolVar(&o.tlsHostnameVerification, "tls-enable-hostname-verification", false, "check the admin server certificate's host name (off by default, as in pulsar-admin)")
	fs.BoolVar(&o.skipConfigCheck, "skip-config-check", false, "send the configs: block without validating it as this sink's configuration")
	fs.DurationVar(&o.wait, "wait", 0, "create/update: wait this long for every instance to run; delete: for the function to be gone (0: do not wait)")
	fs.BoolVar(&o.jsonOut, "json", false, "status: print the worker's JSON")
	fs.BoolVar(&o.dryRun, "dry-run", false, "create/update: print the function config that would be sent, send nothing")
	return fs
}

type deployer struct {
	opts           *deployOptions
	stdout, stderr io.Writer
	client         *http.Client
	authHeader     string
	base           *url.URL
}

func (d *deployer) note(format string, args ...any) {
	fmt.Fprintf(d.stderr, "note: %s\n", fmt.Sprintf(format, args...))
}

func (d *deployer) run(ctx context.Context, binarySet bool) error {
	o := d.opts
	if o.file == "" {
		return errors.New("--sink-config-file is required")
	}
	f, err := conf.LoadSinkConfigFile(o.file)
	if err != nil {
		return err
	}
	id, err := functionIdentity(o.file, f)
	if err != nil {
		return err
	}
	if o.action == "create" || o.action == "update" {
		fc, notes, err := buildFunctionConfig(o.file, f)
		if err != nil {
			return err
		}
		for _, n := range notes {
			d.note("%s", n)
		}
		if !o.skipConfigCheck {
			warns, err := checkSinkConfigs(o.file, f, fc.UserConfig)
			for _, w := range warns {
				d.note("%s", w)
			}
			if err != nil {
				return err
			}
		}
		pkg, err := d.choosePackage(f, binarySet)
		if err != nil {
			return err
		}
		if pkg.path != "" {
			fc.Go = filepath.Base(pkg.path)
		} else if pkg.url != "" {
			fc.Go = pkg.url
		}
		if o.dryRun {
			b, _ := json.MarshalIndent(redactedConfig(fc), "", "  ")
			fmt.Fprintf(d.stdout, "%s\n", b)
			if pkg.path != "" {
				fmt.Fprintf(d.stdout, "package: %s\n", pkg.path)
			} else if pkg.url != "" {
				fmt.Fprintf(d.stdout, "package URL: %s\n", pkg.url)
			}
			return nil
		}
		if err := d.connect(); err != nil {
			return err
		}
		var before *functionStatus
		if o.action == "update" && o.wait > 0 {
			var st functionStatus
			if d.call(ctx, http.MethodGet, id.path("/status"), nil, "", &st) == nil {
				before = &st
			}
		}
		if err := d.upload(ctx, id, fc, pkg); err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "%s function %s (%s)\n", map[string]string{"create": "created", "update": "updated"}[o.action], id, pkg.describe())
		if o.wait > 0 {
			return d.waitRunning(ctx, id, o.wait, before)
		}
		return nil
	}
	if err := d.connect(); err != nil {
		return err
	}
	switch o.action {
	case "delete":
		if err := d.call(ctx, http.MethodDelete, id.path(""), nil, "", nil); err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "deleted function %s\n", id)
		if o.wait > 0 {
			return d.waitGone(ctx, id, o.wait)
		}
		return nil
	case "status":
		var raw json.RawMessage
		if err := d.call(ctx, http.MethodGet, id.path("/status"), nil, "", &raw); err != nil {
			return err
		}
		if o.jsonOut {
			var buf bytes.Buffer
			if json.Indent(&buf, raw, "", "  ") != nil {
				buf.Reset()
				buf.Write(raw)
			}
			fmt.Fprintf(d.stdout, "%s\n", buf.Bytes())
			return nil
		}
		var st functionStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("status of %s: unexpected answer from the worker: %v", id, err)
		}
		printStatus(d.stdout, id, &st)
		return nil
	}
	return fmt.Errorf("unknown action %q", o.action)
}

// redactedConfig is fc with the sink's secret config values and every
// secrets: value masked, for printing. conf knows which keys are secret;
// SinkConfigFile's String applies that knowledge.
func redactedConfig(fc *functionConfig) *functionConfig {
	shown := *fc
	var r struct {
		Configs map[string]any `json:"configs"`
		Secrets map[string]any `json:"secrets"`
	}
	if json.Unmarshal([]byte(conf.SinkConfigFile{Configs: fc.UserConfig, Secrets: fc.Secrets}.String()), &r) != nil {
		shown.UserConfig, shown.Secrets = nil, nil
		return &shown
	}
	shown.UserConfig, shown.Secrets = r.Configs, r.Secrets
	return &shown
}

// functionID names a function.
type functionID struct{ tenant, namespace, name string }

func (id functionID) String() string { return id.tenant + "/" + id.namespace + "/" + id.name }

func (id functionID) path(suffix string) string {
	return "/admin/v3/functions/" + url.PathEscape(id.tenant) + "/" + url.PathEscape(id.namespace) + "/" +
		url.PathEscape(id.name) + suffix
}

// deployFieldError is a one-line error naming the file and the field.
func deployFieldError(path, field, format string, args ...any) error {
	return fmt.Errorf("sink config file %q: %q: %s", path, field, fmt.Sprintf(format, args...))
}

// functionIdentity applies pulsar-admin's defaults (tenant public,
// namespace default); the name has no default because a wrong guess would
// create or delete someone else's function.
func functionIdentity(path string, f *conf.SinkConfigFile) (functionID, error) {
	id := functionID{tenant: f.Tenant, namespace: f.Namespace, name: f.Name}
	if id.tenant == "" {
		id.tenant = "public"
	}
	if id.namespace == "" {
		id.namespace = "default"
	}
	if id.name == "" {
		return id, deployFieldError(path, "name", "required: the function's name")
	}
	for field, v := range map[string]string{"tenant": id.tenant, "namespace": id.namespace, "name": id.name} {
		if strings.ContainsAny(v, "/\\ \t\r\n") {
			return id, deployFieldError(path, field, "must not contain '/', '\\' or whitespace, got %q", v)
		}
	}
	return id, nil
}

// functionConfig is the part of Pulsar's FunctionConfig (the
// `functionConfig` form field of /admin/v3/functions) that deploy sets.
// Absent fields keep the worker's defaults on create and the current values
// on update, so everything optional is omitted when unset.
type functionConfig struct {
	Tenant               string                  `json:"tenant"`
	Namespace            string                  `json:"namespace"`
	Name                 string                  `json:"name"`
	Runtime              string                  `json:"runtime"`
	Go                   string                  `json:"go,omitempty"`
	Inputs               []string                `json:"inputs,omitempty"`
	TopicsPattern        string                  `json:"topicsPattern,omitempty"`
	InputSpecs           map[string]consumerSpec `json:"inputSpecs,omitempty"`
	UserConfig           map[string]any          `json:"userConfig,omitempty"`
	Secrets              map[string]any          `json:"secrets,omitempty"`
	Parallelism          *int                    `json:"parallelism,omitempty"`
	ProcessingGuarantees string                  `json:"processingGuarantees,omitempty"`
	RetainOrdering       *bool                   `json:"retainOrdering,omitempty"`
	SubName              string                  `json:"subName,omitempty"`
	SubscriptionPosition string                  `json:"subscriptionPosition,omitempty"`
	TimeoutMs            *int64                  `json:"timeoutMs,omitempty"`
	CleanupSubscription  *bool                   `json:"cleanupSubscription,omitempty"`
	AutoAck              *bool                   `json:"autoAck,omitempty"`
	Resources            *conf.Resources         `json:"resources,omitempty"`
	LogTopic             string                  `json:"logTopic,omitempty"`
	LogLevel             string                  `json:"logLevel,omitempty"`
	RuntimeFlags         string                  `json:"runtimeFlags,omitempty"`
	CustomRuntimeOptions string                  `json:"customRuntimeOptions,omitempty"`
}

// consumerSpec is Pulsar's ConsumerConfig as the worker reads it (Jackson
// names the Java field isRegexPattern "regexPattern").
type consumerSpec struct {
	SchemaType                    string             `json:"schemaType,omitempty"`
	SerdeClassName                string             `json:"serdeClassName,omitempty"`
	RegexPattern                  bool               `json:"regexPattern,omitempty"`
	SchemaProperties              map[string]string  `json:"schemaProperties,omitempty"`
	ConsumerProperties            map[string]string  `json:"consumerProperties,omitempty"`
	ReceiverQueueSize             *int               `json:"receiverQueueSize,omitempty"`
	CryptoConfig                  *conf.CryptoConfig `json:"cryptoConfig,omitempty"`
	PoolMessages                  bool               `json:"poolMessages,omitempty"`
	MessagePayloadProcessorConfig map[string]any     `json:"messagePayloadProcessorConfig,omitempty"`
}

// buildFunctionConfig translates a sink config file into the FunctionConfig
// of a Go function, with notes on what was translated. It refuses, with an
// error naming the field, what the worker would refuse for a Go function
// and what cannot be carried over.
func buildFunctionConfig(path string, f *conf.SinkConfigFile) (*functionConfig, []string, error) {
	var notes []string
	id, err := functionIdentity(path, f)
	if err != nil {
		return nil, nil, err
	}
	fc := &functionConfig{Tenant: id.tenant, Namespace: id.namespace, Name: id.name, Runtime: "GO"}

	// Refusals first: the worker's doGolangChecks (docs/functions-contract.md §7).
	if f.ProcessingGuarantees == "EFFECTIVELY_ONCE" {
		return nil, nil, deployFieldError(path, "processingGuarantees",
			"EFFECTIVELY_ONCE is not available for Go functions (the worker refuses it); use ATLEAST_ONCE: Kinesis writes are at-least-once, so effectively-once could not hold anyway")
	}
	if f.RetainKeyOrdering != nil && *f.RetainKeyOrdering {
		return nil, nil, deployFieldError(path, "retainKeyOrdering",
			"the worker refuses key ordering (a KEY_SHARED subscription) for Go functions; use retainOrdering: true (a FAILOVER subscription: one instance per partition, so a key's records stay in order) and configs.retainOrdering: true to keep each partition key's order into Kinesis")
	}
	for field, set := range map[string]bool{
		"transformFunction":          f.TransformFunction != "",
		"transformFunctionClassName": f.TransformFunctionClassName != "",
		"transformFunctionConfig":    f.TransformFunctionConfig != "",
	} {
		if set {
			return nil, nil, deployFieldError(path, field, "transform functions are Java-only; remove it")
		}
	}

	// Inputs, merged per topic in the order Pulsar's SinkConfigUtils uses, so
	// a later source replaces an earlier entry for the same topic.
	fc.Inputs = append(fc.Inputs, f.Inputs...)
	fc.TopicsPattern = f.TopicsPattern
	specs := map[string]consumerSpec{}
	if len(f.TopicToSerdeClassName) > 0 {
		notes = append(notes, "topicToSerdeClassName: Java serde classes do not apply to a Go function; ignored (the sink reads the raw bytes and the topic schema)")
	}
	for topic, st := range f.TopicToSchemaType {
		specs[topic] = consumerSpec{SchemaType: st}
	}
	if len(f.TopicToSchemaProperties) > 0 {
		notes = append(notes, "topicToSchemaProperties: ignored, as pulsar-admin does for sinks (inputSpecs.<topic>.schemaProperties is passed on)")
	}
	for topic, c := range f.InputSpecs {
		if c.SerdeClassName != "" {
			notes = append(notes, fmt.Sprintf("inputSpecs.%s.serdeClassName: Java serde classes do not apply to a Go function; ignored", topic))
		}
		specs[topic] = consumerSpec{SchemaType: c.SchemaType, RegexPattern: c.Regex(), SchemaProperties: c.SchemaProperties,
			ConsumerProperties: c.ConsumerProperties, ReceiverQueueSize: c.ReceiverQueueSize, CryptoConfig: c.CryptoConfig,
			PoolMessages: c.PoolMessages, MessagePayloadProcessorConfig: c.MessagePayloadProcessorConfig}
	}
	if len(specs) > 0 {
		fc.InputSpecs = specs
	}
	if len(fc.Inputs) == 0 && fc.TopicsPattern == "" && len(fc.InputSpecs) == 0 {
		return nil, nil, deployFieldError(path, "inputs", "at least one input topic is required (inputs, topicsPattern or inputSpecs)")
	}
	for i, t := range fc.Inputs {
		if strings.TrimSpace(t) == "" {
			return nil, nil, deployFieldError(path, "inputs", "entry %d is empty", i)
		}
	}

	fc.Parallelism = f.Parallelism
	fc.ProcessingGuarantees = f.ProcessingGuarantees
	fc.RetainOrdering = f.RetainOrdering
	fc.SubName = f.SourceSubscriptionName
	fc.SubscriptionPosition = f.SourceSubscriptionPosition
	fc.CleanupSubscription = f.CleanupSubscription
	fc.Resources = f.Resources
	fc.LogTopic, fc.LogLevel = f.LogTopic, f.LogLevel
	fc.RuntimeFlags, fc.CustomRuntimeOptions = f.RuntimeFlags, f.CustomRuntimeOptions
	if len(f.Secrets) > 0 {
		fc.Secrets = f.Secrets
	}

	// A sink's timeoutMs of 0 means "no ack timeout"; the function API
	// spells that by leaving it out (it refuses 0).
	if f.TimeoutMs != nil && *f.TimeoutMs > 0 {
		if pg := f.ProcessingGuarantees; pg != "" && pg != "ATLEAST_ONCE" {
			return nil, nil, deployFieldError(path, "timeoutMs", "only allowed with processingGuarantees ATLEAST_ONCE, got %s", pg)
		}
		fc.TimeoutMs = f.TimeoutMs
	}
	if f.NegativeAckRedeliveryDelayMs != nil && *f.NegativeAckRedeliveryDelayMs > 0 {
		delay := "not set here, so the client default of 1 minute applies"
		if fc.TimeoutMs != nil {
			delay = fmt.Sprintf("here %d ms", *fc.TimeoutMs)
		}
		notes = append(notes, "negativeAckRedeliveryDelayMs: a function cannot set it on its own; the worker sets the redelivery delay of negatively acked records to timeoutMs ("+delay+"); ignored")
	}

	// The runtime only acks automatically, except under MANUAL where the
	// sink acks; autoAck false elsewhere would never ack (the instance
	// refuses it, so refuse it before deploying).
	t := true
	fc.AutoAck = &t
	if f.AutoAck != nil {
		fc.AutoAck = f.AutoAck
		if !*f.AutoAck && f.ProcessingGuarantees != "MANUAL" {
			return nil, nil, deployFieldError(path, "autoAck", "false is only supported with processingGuarantees MANUAL (nothing would ack the records); remove it")
		}
	}

	// The sink's configs go as they are: the raw map, so secret values are
	// passed on untouched (a re-serialised Config would hold them redacted).
	uc := make(map[string]any, len(f.Configs)+2)
	for k, v := range f.Configs {
		uc[k] = v
	}
	dlqNotes, err := translateDeadLetter(path, f, uc)
	if err != nil {
		return nil, nil, err
	}
	notes = append(notes, dlqNotes...)
	if len(uc) > 0 {
		fc.UserConfig = uc
	}

	if f.ClassName != "" {
		notes = append(notes, fmt.Sprintf("className %q: not used by a Go function; ignored", f.ClassName))
	}
	if f.SinkType != "" {
		notes = append(notes, fmt.Sprintf("sinkType %q: not used; the uploaded executable is the sink", f.SinkType))
	}
	return fc, notes, nil
}

// translateDeadLetter maps Pulsar's dead-letter policy, which the worker
// refuses for Go functions ("Message retries not yet supported in Go
// function", even for maxMessageRetries 0), onto the sink's own: failed
// records go to deadLetterTopic once the sink has given up on them
// (configs failurePolicy deadLetter).
//
// As in Pulsar's sink conversion, maxMessageRetries counts only above 0.
// Pulsar's sink ignores a deadLetterTopic without it; here the topic alone
// is enough, since writing it down can only mean "send failures there".
func translateDeadLetter(path string, f *conf.SinkConfigFile, uc map[string]any) ([]string, error) {
	retries := f.MaxMessageRetries != nil && *f.MaxMessageRetries > 0
	if f.DeadLetterTopic == "" {
		if retries {
			return nil, deployFieldError(path, "maxMessageRetries",
				"Go functions cannot count redeliveries (the worker refuses it); set deadLetterTopic so that the sink dead-letters the records it cannot write (configs failurePolicy deadLetter), or remove maxMessageRetries")
		}
		return nil, nil
	}
	policy, _ := uc["failurePolicy"].(string)
	switch {
	case policy == "" || strings.EqualFold(policy, "fail"):
		uc["failurePolicy"] = "deadLetter"
	case strings.EqualFold(policy, "deadLetter"):
	default:
		return nil, deployFieldError(path, "configs.failurePolicy",
			"%q conflicts with deadLetterTopic %q: for a Go function the sink dead-letters records itself, which needs failurePolicy deadLetter; remove one of them", policy, f.DeadLetterTopic)
	}
	if v, ok := uc["deadLetterTopic"]; ok && v != nil && v != "" {
		if s, _ := v.(string); s != f.DeadLetterTopic {
			return nil, deployFieldError(path, "configs.deadLetterTopic", "%v differs from the top-level deadLetterTopic %q; keep one", v, f.DeadLetterTopic)
		}
	}
	uc["deadLetterTopic"] = f.DeadLetterTopic
	n := fmt.Sprintf("deadLetterTopic: the worker refuses Pulsar's dead-letter policy for Go functions, so the sink dead-letters failed records itself: configs failurePolicy=deadLetter, deadLetterTopic=%s (a record goes there once the sink gives up on it, after configs.recordTtl", f.DeadLetterTopic)
	if retries {
		n += fmt.Sprintf(", instead of after %d redeliveries)", *f.MaxMessageRetries)
	} else {
		n += ")"
	}
	return []string{n}, nil
}

// checkSinkConfigs validates the userConfig as this sink would at start-up,
// so a bad key fails here and not in a restart loop on the worker. Secrets
// the worker resolves (non-scalar secrets: values, e.g. Kubernetes
// references) cannot be checked here; an error about such a key is skipped.
func checkSinkConfigs(path string, f *conf.SinkConfigFile, uc map[string]any) ([]string, error) {
	clear := f.ClearTextSecrets()
	_, warns, err := conf.FromMap(uc, clear)
	var notes []string
	for _, w := range warns {
		notes = append(notes, "configs: "+strings.TrimPrefix(w, "sink config: "))
	}
	if err == nil {
		return notes, nil
	}
	var ce *conf.Error
	if errors.As(err, &ce) {
		if v, ok := f.Secrets[ce.Key]; ok {
			if _, scalar := clear(ce.Key); !scalar && v != nil {
				return append(notes, fmt.Sprintf("configs.%s: not checked here, the worker's secrets provider supplies it (secrets.%s)", ce.Key, ce.Key)), nil
			}
		}
		if ce.Key == "" {
			return notes, fmt.Errorf("sink config file %q: configs: %s", path, ce.Msg)
		}
		return notes, fmt.Errorf("sink config file %q: \"configs.%s\": %s", path, ce.Key, ce.Msg)
	}
	return notes, fmt.Errorf("sink config file %q: configs: %s", path, strings.TrimPrefix(err.Error(), "sink config: "))
}

// deployPackage is what create/update upload: a local file, a package URL
// the worker fetches itself, or nothing (update of the config only).
type deployPackage struct {
	path string
	url  string
}

func (p deployPackage) describe() string {
	switch {
	case p.path != "":
		return "uploaded " + p.path
	case p.url != "":
		return "package " + p.url
	}
	return "configuration only, binary unchanged"
}

// packageURLPrefixes are the archive values the worker downloads itself
// (pulsar-admin's isFunctionPackageUrlSupported, plus package names).
var packageURLPrefixes = []string{"http://", "https://", "file:", "function://", "sink://", "source://"}

func (d *deployer) choosePackage(f *conf.SinkConfigFile, binarySet bool) (deployPackage, error) {
	o := d.opts
	if binarySet {
		if o.binary == "" {
			return deployPackage{}, errors.New("--binary: empty path")
		}
		return deployPackage{path: o.binary}, checkLinuxExecutable("--binary", o.binary)
	}
	if a := f.Archive; a != "" {
		switch {
		case slices.ContainsFunc(packageURLPrefixes, func(p string) bool { return strings.HasPrefix(a, p) }):
			return deployPackage{url: a}, nil
		case strings.HasPrefix(a, "builtin://") || strings.HasSuffix(a, ".nar") || strings.HasSuffix(a, ".jar"):
			if o.action == "update" {
				d.note("archive %q is a Java connector; ignored (the executable stays as it is unless --binary is given)", a)
			} else {
				d.note("archive %q is a Java connector; deploying the Go executable instead", a)
			}
		default:
			field := fmt.Sprintf("sink config file %q: \"archive\"", o.file)
			p := a
			if !filepath.IsAbs(p) {
				// pulsar-admin resolves it against the working directory;
				// a path relative to the file is also accepted, because
				// the file usually sits next to the executable.
				if _, err := os.Stat(p); err != nil {
					p = filepath.Join(filepath.Dir(o.file), a)
				}
			}
			return deployPackage{path: p}, checkLinuxExecutable(field, p)
		}
	}
	if o.action == "update" {
		return deployPackage{}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return deployPackage{}, fmt.Errorf("--binary: cannot find this executable (%v); give --binary", err)
	}
	if goruntime.GOOS != "linux" {
		return deployPackage{}, fmt.Errorf("--binary: this executable is built for %s/%s and the worker runs Linux; give --binary with the linux build (kinesis-sink-<version>-linux-<arch>.zip)", goruntime.GOOS, goruntime.GOARCH)
	}
	return deployPackage{path: exe}, checkLinuxExecutable("--binary (default: this executable)", exe)
}

// checkLinuxExecutable rejects what the worker could not exec: a missing
// file, a script, a NAR, a binary for another OS.
func checkLinuxExecutable(what, path string) error {
	ef, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("%s %s: %v", what, path, errors.Unwrap(err))
		}
		return fmt.Errorf("%s %s: not a Linux executable (ELF); use the kinesis-sink binary from the linux zip", what, path)
	}
	defer ef.Close()
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return fmt.Errorf("%s %s: an ELF %s, not an executable", what, path, ef.Type)
	}
	return nil
}

// connect prepares the HTTP client: TLS settings and authentication.
func (d *deployer) connect() error {
	o := d.opts
	u, err := url.Parse(strings.TrimRight(o.adminURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--admin-url: must be an http:// or https:// URL, got %q", o.adminURL)
	}
	d.base = u
	tc, header, err := adminAuth(o)
	if err != nil {
		return err
	}
	d.authHeader = header
	if u.Scheme == "https" || tc.Certificates != nil {
		if err := adminTLS(o, tc); err != nil {
			return err
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	d.client = &http.Client{
		Transport: tr,
		// The worker may redirect to the leader or to the worker that owns
		// the function. Go drops Authorization when the host changes;
		// pulsar-admin authenticates every hop, so do the same.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if d.authHeader != "" {
				req.Header.Set("Authorization", d.authHeader)
			}
			return nil
		},
	}
	return nil
}

// Authentication plugins deploy understands (pulsar-admin class names).
const (
	authTokenPlugin = "org.apache.pulsar.client.impl.auth.AuthenticationToken"
	authTLSPlugin   = "org.apache.pulsar.client.impl.auth.AuthenticationTls"
)

// adminAuth turns --auth-plugin/--auth-params into a bearer header or a
// client certificate. Parameter values are never shown in errors.
func adminAuth(o *deployOptions) (*tls.Config, string, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch o.authPlugin {
	case "", "org.apache.pulsar.client.impl.auth.AuthenticationDisabled":
		if o.authParams != "" {
			return nil, "", errors.New("--auth-params: given without --auth-plugin")
		}
		return tc, "", nil
	case authTokenPlugin, "token":
		tok, err := tokenFromParams(o.authParams)
		if err != nil {
			return nil, "", err
		}
		return tc, "Bearer " + tok, nil
	case authTLSPlugin, "tls":
		cert, key, err := tlsParams(o.authParams)
		if err != nil {
			return nil, "", err
		}
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, "", fmt.Errorf("--auth-params: cannot load the client certificate %s / key %s: %v", cert, key, err)
		}
		tc.Certificates = []tls.Certificate{c}
		return tc, "", nil
	}
	return nil, "", fmt.Errorf("--auth-plugin: %q is not supported; allowed: %s (or token), %s (or tls)", o.authPlugin, authTokenPlugin, authTLSPlugin)
}

// tokenFromParams reads a token the way AuthenticationToken does:
// "token:<jwt>", "file:<path>" (file:///abs too), a JSON object with
// "token" or "file", or the bare token.
func tokenFromParams(p string) (string, error) {
	p = strings.TrimSpace(p)
	readFile := func(ref string) (string, error) {
		path := ref
		if u, err := url.Parse(ref); err == nil && u.Scheme == "file" {
			path = u.Path
			if path == "" {
				path = u.Opaque
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--auth-params: cannot read the token file %s: %v", path, errors.Unwrap(err))
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("--auth-params: the token file %s is empty", path)
		}
		return tok, nil
	}
	switch {
	case p == "":
		return "", errors.New("--auth-params: the token plugin needs token:<jwt> or file:<path>")
	case strings.HasPrefix(p, "token:"):
		if t := strings.TrimSpace(strings.TrimPrefix(p, "token:")); t != "" {
			return t, nil
		}
		return "", errors.New("--auth-params: token: is empty")
	case strings.HasPrefix(p, "file:"):
		return readFile(p)
	case strings.HasPrefix(p, "{"):
		var m map[string]string
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			return "", errors.New("--auth-params: not a JSON object of strings (want {\"token\":\"...\"} or {\"file\":\"...\"})")
		}
		if t := strings.TrimSpace(m["token"]); t != "" {
			return t, nil
		}
		if f := m["file"]; f != "" {
			return readFile(f)
		}
		return "", errors.New("--auth-params: the JSON has neither \"token\" nor \"file\"")
	}
	return p, nil
}

// tlsParams reads AuthenticationTls parameters: "tlsCertFile:<path>,
// tlsKeyFile:<path>" or the same keys as a JSON object.
func tlsParams(p string) (cert, key string, err error) {
	m := map[string]string{}
	if strings.HasPrefix(strings.TrimSpace(p), "{") {
		if json.Unmarshal([]byte(p), &m) != nil {
			return "", "", errors.New("--auth-params: not a JSON object of strings (want {\"tlsCertFile\":\"...\",\"tlsKeyFile\":\"...\"})")
		}
	} else {
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return "", "", errors.New("--auth-params: want tlsCertFile:<path>,tlsKeyFile:<path>")
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	cert, key = m["tlsCertFile"], m["tlsKeyFile"]
	if cert == "" || key == "" {
		return "", "", errors.New("--auth-params: the TLS plugin needs tlsCertFile and tlsKeyFile")
	}
	return cert, key, nil
}

// adminTLS applies the trust store and the two TLS switches. Without host
// name verification the chain is still verified against the trust store:
// only the name check is skipped, as pulsar-admin does by default.
func adminTLS(o *deployOptions, tc *tls.Config) error {
	var roots *x509.CertPool
	if o.tlsTrustCertPath != "" {
		pem, err := os.ReadFile(o.tlsTrustCertPath)
		if err != nil {
			return fmt.Errorf("--tls-trust-cert-path: %v", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--tls-trust-cert-path: %s holds no PEM certificate", o.tlsTrustCertPath)
		}
	}
	// ServerName stays empty: the transport sets it per connection, so a
	// redirect to another worker is checked against that worker's name.
	tc.RootCAs = roots
	switch {
	case o.tlsAllowInsecure:
		tc.InsecureSkipVerify = true
	case !o.tlsHostnameVerification:
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the admin server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return nil
}

// workerError is a refusal from the worker, with the YAML field it is
// about when the message allows a guess.
type workerError struct {
	status int
	reason string
	field  string
}

func (e *workerError) Error() string {
	if e.field != "" {
		return fmt.Sprintf("%q: %s (worker HTTP %d)", e.field, e.reason, e.status)
	}
	return fmt.Sprintf("the worker answered HTTP %d: %s", e.status, e.reason)
}

// workerReasonFields maps the worker's refusal messages (FunctionConfigUtils
// validate and validateUpdate) to the sink config file field to change.
var workerReasonFields = []struct{ contains, field string }{
	{"Tenants differ", "tenant"},
	{"Namespaces differ", "namespace"},
	{"Function Names differ", "name"},
	{"Input Topics cannot be altered", "inputs"},
	{"isRegexPattern for input topic", "topicsPattern"},
	{"Input topic", "inputs"},
	{"No input topic", "inputs"},
	{"Processing Guarantees cannot be altered", "processingGuarantees"},
	{"Retain Ordering cannot be altered", "retainOrdering"},
	{"Retain Key Ordering cannot be altered", "retainKeyOrdering"},
	{"Subscription Name cannot be altered", "sourceSubscriptionName"},
	{"Subscription Position", "sourceSubscriptionPosition"},
	{"AutoAck cannot be altered", "autoAck"},
	{"parallelism", "parallelism"},
	{"timeout", "timeoutMs"},
	{"LogTopic", "logTopic"},
	{"LogLevel", "logLevel"},
	{"RAM", "resources.ram"},
	{"CPU", "resources.cpu"},
	{"Disk", "resources.disk"},
	{"already exists", "name"},
	{"doesn't exist", "name"},
	{"does not exist", "name"},
	{"Secrets", "secrets"},
}

func newWorkerError(status int, body []byte) *workerError {
	reason := strings.TrimSpace(string(body))
	var r struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &r) == nil && r.Reason != "" {
		reason = r.Reason
	}
	reason = strings.Join(strings.Fields(reason), " ")
	if len(reason) > 400 {
		reason = reason[:400] + "…"
	}
	if reason == "" {
		reason = http.StatusText(status)
	}
	e := &workerError{status: status, reason: reason}
	for _, m := range workerReasonFields {
		if strings.Contains(strings.ToLower(reason), strings.ToLower(m.contains)) {
			e.field = m.field
			break
		}
	}
	switch {
	case e.field == "name" && strings.Contains(reason, "already exists"):
		e.reason += "; use deploy update"
	case e.field == "name" || (status == http.StatusNotFound && e.field == ""):
		e.field = "name"
		e.reason += "; use deploy create"
	}
	return e
}

// call sends one admin request. body, when not nil, is sent with the given
// content type and length; out, when not nil, receives the JSON answer.
func (d *deployer) call(ctx context.Context, method, path string, body *requestBody, contentType string, out any) error {
	u := *d.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	var rd io.Reader
	if body != nil {
		r, err := body.open()
		if err != nil {
			return err
		}
		defer r.Close()
		rd = r
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.ContentLength = body.size
		req.GetBody = func() (io.ReadCloser, error) { return body.open() }
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if d.authHeader != "" {
		req.Header.Set("Authorization", d.authHeader)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %v", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %v", method, u.Redacted(), err)
	}
	if resp.StatusCode >= 300 {
		return newWorkerError(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %v", method, u.Redacted(), err)
		}
	}
	return nil
}

// requestBody is a multipart body whose middle part is a file: it is sent
// with its exact length (no chunked encoding) and can be re-read for a
// redirect without holding the executable in memory.
type requestBody struct {
	prefix, suffix []byte
	file           string
	size           int64
}

func (b *requestBody) open() (io.ReadCloser, error) {
	if b.file == "" {
		return io.NopCloser(io.MultiReader(bytes.NewReader(b.prefix), bytes.NewReader(b.suffix))), nil
	}
	f, err := os.Open(b.file)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b.prefix), io.LimitReader(f, b.size-int64(len(b.prefix)+len(b.suffix))),
		bytes.NewReader(b.suffix)), f}, nil
}

// multipartBody builds the form /admin/v3/functions takes: functionConfig
// (JSON), then either data (the executable) or url (a package the worker
// fetches).
func multipartBody(fc *functionConfig, pkg deployPackage) (*requestBody, string, error) {
	cfgJSON, err := json.Marshal(fc)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="functionConfig"`)
	h.Set("Content-Type", "application/json")
	pw, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	pw.Write(cfgJSON)
	body := &requestBody{}
	switch {
	case pkg.path != "":
		st, err := os.Stat(pkg.path)
		if err != nil {
			return nil, "", err
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="data"; filename=%q`, filepath.Base(pkg.path)))
		h.Set("Content-Type", "application/octet-stream")
		if _, err := w.CreatePart(h); err != nil {
			return nil, "", err
		}
		body.prefix = bytes.Clone(buf.Bytes())
		buf.Reset()
		body.file = pkg.path
		body.size = st.Size()
	case pkg.url != "":
		if err := w.WriteField("url", pkg.url); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	if body.file == "" {
		body.prefix = bytes.Clone(buf.Bytes())
	} else {
		body.suffix = bytes.Clone(buf.Bytes())
	}
	body.size += int64(len(body.prefix) + len(body.suffix))
	return body, w.FormDataContentType(), nil
}

func (d *deployer) upload(ctx context.Context, id functionID, fc *functionConfig, pkg deployPackage) error {
	body, ct, err := multipartBody(fc, pkg)
	if err != nil {
		return err
	}
	method := http.MethodPost
	if d.opts.action == "update" {
		method = http.MethodPut
	}
	return d.call(ctx, method, id.path(""), body, ct, nil)
}

// functionStatus is the worker's FunctionStatus (GET .../status).
type functionStatus struct {
	NumInstances int `json:"numInstances"`
	NumRunning   int `json:"numRunning"`
	Instances    []struct {
		InstanceID int `json:"instanceId"`
		Status     struct {
			Running                  bool            `json:"running"`
			Error                    string          `json:"error"`
			NumRestarts              int64           `json:"numRestarts"`
			NumReceived              int64           `json:"numReceived"`
			NumSuccessfullyProcessed int64           `json:"numSuccessfullyProcessed"`
			NumUserExceptions        int64           `json:"numUserExceptions"`
			LatestUserExceptions     []exceptionInfo `json:"latestUserExceptions"`
			NumSystemExceptions      int64           `json:"numSystemExceptions"`
			LatestSystemExceptions   []exceptionInfo `json:"latestSystemExceptions"`
			AverageLatency           float64         `json:"averageLatency"`
			LastInvocationTime       int64           `json:"lastInvocationTime"`
			WorkerID                 string          `json:"workerId"`
		} `json:"status"`
	} `json:"instances"`
}

type exceptionInfo struct {
	ExceptionString string `json:"exceptionString"`
	TimestampMs     int64  `json:"timestampMs"`
}

func printStatus(w io.Writer, id functionID, st *functionStatus) {
	fmt.Fprintf(w, "function %s: %d of %d instances running\n", id, st.NumRunning, st.NumInstances)
	if len(st.Instances) == 0 {
		return
	}
	sort.Slice(st.Instances, func(i, j int) bool { return st.Instances[i].InstanceID < st.Instances[j].InstanceID })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tRUNNING\tRECEIVED\tPROCESSED\tUSER EXC\tSYSTEM EXC\tRESTARTS\tAVG LATENCY\tLAST INVOCATION\tWORKER")
	for _, in := range st.Instances {
		s := in.Status
		last := "-"
		if s.LastInvocationTime > 0 {
			last = deployTime(s.LastInvocationTime).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%t\t%d\t%d\t%d\t%d\t%d\t%.1f ms\t%s\t%s\n", in.InstanceID, s.Running, s.NumReceived,
			s.NumSuccessfullyProcessed, s.NumUserExceptions, s.NumSystemExceptions, s.NumRestarts, s.AverageLatency, last, s.WorkerID)
	}
	tw.Flush()
	for _, in := range st.Instances {
		s := in.Status
		if s.Error != "" {
			fmt.Fprintf(w, "instance %d error: %s\n", in.InstanceID, strings.Join(strings.Fields(s.Error), " "))
		}
		for _, e := range s.LatestUserExceptions {
			fmt.Fprintf(w, "instance %d user exception at %s: %s\n", in.InstanceID, deployMsTime(e.TimestampMs), strings.Join(strings.Fields(e.ExceptionString), " "))
		}
		for _, e := range s.LatestSystemExceptions {
			fmt.Fprintf(w, "instance %d system exception at %s: %s\n", in.InstanceID, deployMsTime(e.TimestampMs), strings.Join(strings.Fields(e.ExceptionString), " "))
		}
	}
}

// deployTime reads lastInvocationTime, which instances report in
// milliseconds; the official Go instance reported nanoseconds.
func deployTime(v int64) time.Time {
	if v > 1e15 {
		return time.Unix(0, v)
	}
	return time.UnixMilli(v)
}

func deployMsTime(ms int64) string {
	if ms <= 0 {
		return "?"
	}
	return deployTime(ms).UTC().Format(time.RFC3339)
}

// restartGrace bounds how long waitRunning looks for a sign that an update
// restarted the instances before it settles for "all running".
const restartGrace = 15 * time.Second

// waitRunning polls the status until every instance runs. After an update
// (before is the status just before it) the old instances answer "running"
// until the worker replaces them, and the status carries no version, so it
// first waits for a sign of the restart: an instance not running, counters
// going back, a different instance count, or a status error.
func (d *deployer) waitRunning(ctx context.Context, id functionID, timeout time.Duration, before *functionStatus) error {
	start := time.Now()
	deadline := start.Add(timeout)
	restarted := before == nil
	var last functionStatus
	var lastErr error
	for {
		var st functionStatus
		lastErr = d.call(ctx, http.MethodGet, id.path("/status"), nil, "", &st)
		if !restarted && (lastErr != nil || statusRestarted(before, &st) || time.Since(start) > min(restartGrace, timeout/2)) {
			restarted = true
		}
		if lastErr == nil {
			last = st
			if restarted && st.NumInstances > 0 && st.NumRunning == st.NumInstances {
				printStatus(d.stdout, id, &st)
				return nil
			}
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return fmt.Errorf("not running after %s: %v", timeout, lastErr)
	}
	msg := fmt.Sprintf("not running after %s: %d of %d instances running", timeout, last.NumRunning, last.NumInstances)
	var restarts int64
	for _, in := range last.Instances {
		restarts += in.Status.NumRestarts
	}
	if restarts > 0 {
		msg += fmt.Sprintf(", %d restarts", restarts)
	}
	for _, in := range last.Instances {
		if e := strings.Join(strings.Fields(in.Status.Error), " "); e != "" && e != "java.lang.RuntimeException:" {
			msg += fmt.Sprintf("; instance %d: %s", in.InstanceID, e)
			break
		}
	}
	// The process runtime passes the instance's output to the worker's
	// own log, not to the status.
	return errors.New(msg + " (the instances' output is in the function worker's log)")
}

// statusRestarted reports a visible difference that only a restart makes.
func statusRestarted(before, now *functionStatus) bool {
	if now.NumInstances != before.NumInstances || now.NumRunning < now.NumInstances || len(now.Instances) != len(before.Instances) {
		return true
	}
	prev := map[int]int64{}
	for _, in := range before.Instances {
		prev[in.InstanceID] = in.Status.NumReceived
	}
	for _, in := range now.Instances {
		if p, ok := prev[in.InstanceID]; !ok || in.Status.NumReceived < p || !in.Status.Running {
			return true
		}
	}
	return false
}

// waitGone polls until the worker no longer knows the function.
func (d *deployer) waitGone(ctx context.Context, id functionID, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := d.call(ctx, http.MethodGet, id.path(""), nil, "", nil)
		var we *workerError
		if errors.As(err, &we) && we.status == http.StatusNotFound {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("function %s still present after %s", id, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
