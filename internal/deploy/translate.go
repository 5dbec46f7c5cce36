package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/lenient"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// redactedConfig is fc with the sink's secret config values and every
// secrets: value masked, for printing.
func redactedConfig(fc *functionConfig) *functionConfig {
	shown := *fc
	shown.UserConfig, shown.Secrets = redacted(fc.UserConfig, fc.Secrets)
	return &shown
}

// redacted masks the sink's secret config values and every secrets: value.
// conf knows which keys are secret; SinkConfigFile's String applies that
// knowledge. Both are nil if that fails.
func redacted(configs, secrets map[string]any) (map[string]any, map[string]any) {
	var r struct {
		Configs map[string]any `json:"configs"`
		Secrets map[string]any `json:"secrets"`
	}
	if json.Unmarshal([]byte(conf.SinkConfigFile{Configs: configs, Secrets: secrets}.String()), &r) != nil {
		return nil, nil
	}
	return r.Configs, r.Secrets
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
	keyOrdering := f.RetainKeyOrdering != nil && *f.RetainKeyOrdering
	if keyOrdering && f.RetainOrdering != nil && *f.RetainOrdering {
		return nil, nil, deployFieldError(path, "retainKeyOrdering",
			"retainOrdering (FAILOVER) and retainKeyOrdering (KEY_SHARED) are both true: keep one; KEY_SHARED keeps each key's order also while instances join and leave on a backlog")
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
	for _, topic := range slices.Sorted(maps.Keys(f.InputSpecs)) {
		c := f.InputSpecs[topic]
		if c.SerdeClassName != "" {
			notes = append(notes, fmt.Sprintf("inputSpecs.%s.serdeClassName: Java serde classes do not apply to a Go function; ignored", topic))
		}
		if q := c.ReceiverQueueSize; q != nil && *q < 0 {
			return nil, nil, deployFieldError(path, "inputSpecs."+topic+".receiverQueueSize", "must be at least 0 (0: the client's default), got %d", *q)
		}
		if cc := c.CryptoConfig; cc != nil && cc.ConsumerCryptoFailureAction != "" && !slices.Contains(cryptoFailureActions, cc.ConsumerCryptoFailureAction) {
			return nil, nil, deployFieldError(path, "inputSpecs."+topic+".cryptoConfig.consumerCryptoFailureAction",
				"must be one of %s, got %q", strings.Join(cryptoFailureActions, ", "), cc.ConsumerCryptoFailureAction)
		}
		specs[topic] = consumerSpec{SchemaType: c.SchemaType, RegexPattern: c.Regex(), SchemaProperties: c.SchemaProperties,
			ConsumerProperties: c.ConsumerProperties, ReceiverQueueSize: c.ReceiverQueueSize, CryptoConfig: c.CryptoConfig,
			PoolMessages: c.PoolMessages, MessagePayloadProcessorConfig: c.MessagePayloadProcessorConfig}
	}
	if len(specs) > 0 {
		fc.InputSpecs = specs
	}
	if len(fc.Inputs) == 0 && fc.TopicsPattern == "" && len(fc.InputSpecs) == 0 {
		return nil, nil, fmt.Errorf("sink config file %q: %q: %w: give inputs, topicsPattern or inputSpecs", path, "inputs", errNoInputs)
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
	if keyOrdering {
		// The worker refuses key ordering for Go functions; the runtime
		// takes it from the user config instead and subscribes KEY_SHARED.
		uc[runtime.UserConfigKeyOrdering] = true
	}
	// The runtime's rule, applied here so that a bad value (or KEY_SHARED
	// against retainOrdering) fails deploy, not the instance in a restart loop.
	probe := &runtime.InstanceConfig{UserConfig: maps.Clone(uc)}
	if f.RetainOrdering != nil && *f.RetainOrdering {
		probe.SubscriptionType = runtime.Failover
	}
	if err := probe.TakeKeyOrderingFromUserConfig(); err != nil {
		return nil, nil, deployFieldError(path, "configs."+runtime.UserConfigKeyOrdering, "%s",
			strings.TrimPrefix(err.Error(), `instance conf: "userConfig.retainKeyOrdering": `))
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
		notes = append(notes, fmt.Sprintf("sinkType %q: not used; this executable is the sink", f.SinkType))
	}
	return fc, notes, nil
}

// errNoInputs is a file without an input topic, which localrun's flags can
// make up for.
var errNoInputs = errors.New("no input topics")

// cryptoFailureActions are the values of Pulsar's ConsumerCryptoFailureAction
// (the worker refuses others; unset means FAIL).
var cryptoFailureActions = []string{"FAIL", "DISCARD", "CONSUME"}

// translate is the one reading of a sink config file as a Go function, for
// deploy and localrun alike: the FunctionConfig, then (unless check is
// false) the configs: block validated as the sink will at start-up. notes
// are every note and warning on the way, in the order to print them; they
// come with an error too. secret resolves the secrets the check needs.
func translate(path string, f *conf.SinkConfigFile, check bool, secret func(string) (string, bool)) (*functionConfig, []string, error) {
	fc, notes, err := buildFunctionConfig(path, f)
	if err != nil || !check {
		return fc, notes, err
	}
	warns, err := checkSinkConfigs(path, f, fc.UserConfig, secret)
	return fc, append(notes, warns...), err
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
	when := "after configs.recordTtl"
	if ordered, _ := lenient.Bool(uc["retainOrdering"]); ordered {
		// With retainOrdering a retriable failure is retried until it
		// succeeds: recordTtl does not apply there.
		when = "on an error no retry can fix (with configs.retainOrdering, throttling and outages are retried until they pass)"
	}
	n := fmt.Sprintf("deadLetterTopic: the worker refuses Pulsar's dead-letter policy for Go functions, so the sink dead-letters failed records itself: configs failurePolicy=deadLetter, deadLetterTopic=%s (a record goes there once the sink gives up on it, %s", f.DeadLetterTopic, when)
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
func checkSinkConfigs(path string, f *conf.SinkConfigFile, uc map[string]any, secret func(string) (string, bool)) ([]string, error) {
	// The runtime's own key, which it removes before the sink reads the rest.
	uc = maps.Clone(uc)
	delete(uc, runtime.UserConfigKeyOrdering)
	_, warns, err := conf.FromMap(uc, secret)
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
			if _, scalar := f.ClearTextSecrets()(ce.Key); !scalar && v != nil {
				return append(notes, fmt.Sprintf("configs: %q: not checked here, the worker's secrets provider supplies it (secrets.%s)", ce.Key, ce.Key)), nil
			}
		}
		if ce.Key == "" {
			return notes, fmt.Errorf("sink config file %q: configs: %s", path, ce.Msg)
		}
		// The sink's own wording ("key": ...), as the notes above and
		// an instance's log give it.
		return notes, fmt.Errorf("sink config file %q: configs: %q: %s", path, ce.Key, ce.Msg)
	}
	return notes, fmt.Errorf("sink config file %q: configs: %s", path, strings.TrimPrefix(err.Error(), "sink config: "))
}
