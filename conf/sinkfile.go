package conf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"

	"github.com/pulsar-kinesis/kinesis-sink/internal/yamlvalue"
)

// SinkConfigFile is a pulsar-admin sink config file (the YAML or JSON given
// to `pulsar-admin sinks create --sink-config-file`), Pulsar's SinkConfig
// with the same field names. The sink's own settings are in Configs.
// Optional scalars are pointers so that "not set" (Pulsar's default) is
// distinguishable from a zero value.
type SinkConfigFile struct {
	Tenant                     string                    `yaml:"tenant,omitempty" json:"tenant,omitempty"`
	Namespace                  string                    `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Name                       string                    `yaml:"name,omitempty" json:"name,omitempty"`
	ClassName                  string                    `yaml:"className,omitempty" json:"className,omitempty"`
	SourceSubscriptionName     string                    `yaml:"sourceSubscriptionName,omitempty" json:"sourceSubscriptionName,omitempty"`
	SourceSubscriptionPosition string                    `yaml:"sourceSubscriptionPosition,omitempty" json:"sourceSubscriptionPosition,omitempty"`
	Inputs                     []string                  `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	TopicToSerdeClassName      map[string]string         `yaml:"topicToSerdeClassName,omitempty" json:"topicToSerdeClassName,omitempty"`
	TopicsPattern              string                    `yaml:"topicsPattern,omitempty" json:"topicsPattern,omitempty"`
	TopicToSchemaType          map[string]string         `yaml:"topicToSchemaType,omitempty" json:"topicToSchemaType,omitempty"`
	TopicToSchemaProperties    map[string]string         `yaml:"topicToSchemaProperties,omitempty" json:"topicToSchemaProperties,omitempty"`
	InputSpecs                 map[string]ConsumerConfig `yaml:"inputSpecs,omitempty" json:"inputSpecs,omitempty"`
	MaxMessageRetries          *int                      `yaml:"maxMessageRetries,omitempty" json:"maxMessageRetries,omitempty"`
	DeadLetterTopic            string                    `yaml:"deadLetterTopic,omitempty" json:"deadLetterTopic,omitempty"`
	// Configs is the sink configuration (the function's userConfig).
	Configs map[string]any `yaml:"configs,omitempty" json:"configs,omitempty"`
	// Secrets maps a secret name (as the sink asks for it, e.g.
	// awsCredentialPluginParam) to what the worker's secrets provider needs
	// to fetch it: the value itself for the clear-text provider, or e.g.
	// {path, key} of a Kubernetes secret.
	Secrets                      map[string]any `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	Parallelism                  *int           `yaml:"parallelism,omitempty" json:"parallelism,omitempty"`
	ProcessingGuarantees         string         `yaml:"processingGuarantees,omitempty" json:"processingGuarantees,omitempty"`
	RetainOrdering               *bool          `yaml:"retainOrdering,omitempty" json:"retainOrdering,omitempty"`
	RetainKeyOrdering            *bool          `yaml:"retainKeyOrdering,omitempty" json:"retainKeyOrdering,omitempty"`
	Resources                    *Resources     `yaml:"resources,omitempty" json:"resources,omitempty"`
	AutoAck                      *bool          `yaml:"autoAck,omitempty" json:"autoAck,omitempty"`
	TimeoutMs                    *int64         `yaml:"timeoutMs,omitempty" json:"timeoutMs,omitempty"`
	NegativeAckRedeliveryDelayMs *int64         `yaml:"negativeAckRedeliveryDelayMs,omitempty" json:"negativeAckRedeliveryDelayMs,omitempty"`
	SinkType                     string         `yaml:"sinkType,omitempty" json:"sinkType,omitempty"`
	Archive                      string         `yaml:"archive,omitempty" json:"archive,omitempty"`
	CleanupSubscription          *bool          `yaml:"cleanupSubscription,omitempty" json:"cleanupSubscription,omitempty"`
	RuntimeFlags                 string         `yaml:"runtimeFlags,omitempty" json:"runtimeFlags,omitempty"`
	CustomRuntimeOptions         string         `yaml:"customRuntimeOptions,omitempty" json:"customRuntimeOptions,omitempty"`
	TransformFunction            string         `yaml:"transformFunction,omitempty" json:"transformFunction,omitempty"`
	TransformFunctionClassName   string         `yaml:"transformFunctionClassName,omitempty" json:"transformFunctionClassName,omitempty"`
	TransformFunctionConfig      string         `yaml:"transformFunctionConfig,omitempty" json:"transformFunctionConfig,omitempty"`
	LogTopic                     string         `yaml:"logTopic,omitempty" json:"logTopic,omitempty"`
	LogLevel                     string         `yaml:"logLevel,omitempty" json:"logLevel,omitempty"`
}

// ConsumerConfig is one entry of inputSpecs (Pulsar's ConsumerConfig).
type ConsumerConfig struct {
	SchemaType     string `yaml:"schemaType,omitempty" json:"schemaType,omitempty"`
	SerdeClassName string `yaml:"serdeClassName,omitempty" json:"serdeClassName,omitempty"`
	// RegexPattern is Jackson's name for the Java field isRegexPattern;
	// IsRegexPattern accepts the field's own name, which documentation uses.
	RegexPattern       bool              `yaml:"regexPattern,omitempty" json:"regexPattern,omitempty"`
	IsRegexPattern     bool              `yaml:"isRegexPattern,omitempty" json:"isRegexPattern,omitempty"`
	SchemaProperties   map[string]string `yaml:"schemaProperties,omitempty" json:"schemaProperties,omitempty"`
	ConsumerProperties map[string]string `yaml:"consumerProperties,omitempty" json:"consumerProperties,omitempty"`
	ReceiverQueueSize  *int              `yaml:"receiverQueueSize,omitempty" json:"receiverQueueSize,omitempty"`
	CryptoConfig       *CryptoConfig     `yaml:"cryptoConfig,omitempty" json:"cryptoConfig,omitempty"`
	// MessagePayloadProcessorConfig is {className, config}; kept as given.
	MessagePayloadProcessorConfig map[string]any `yaml:"messagePayloadProcessorConfig,omitempty" json:"messagePayloadProcessorConfig,omitempty"`
	PoolMessages                  bool           `yaml:"poolMessages,omitempty" json:"poolMessages,omitempty"`
}

// Regex reports whether the input is a topic pattern, under either spelling.
func (c ConsumerConfig) Regex() bool { return c.RegexPattern || c.IsRegexPattern }

// CryptoConfig is Pulsar's CryptoConfig of an input.
type CryptoConfig struct {
	CryptoKeyReaderClassName    string         `yaml:"cryptoKeyReaderClassName,omitempty" json:"cryptoKeyReaderClassName,omitempty"`
	CryptoKeyReaderConfig       map[string]any `yaml:"cryptoKeyReaderConfig,omitempty" json:"cryptoKeyReaderConfig,omitempty"`
	EncryptionKeys              []string       `yaml:"encryptionKeys,omitempty" json:"encryptionKeys,omitempty"`
	ProducerCryptoFailureAction string         `yaml:"producerCryptoFailureAction,omitempty" json:"producerCryptoFailureAction,omitempty"`
	ConsumerCryptoFailureAction string         `yaml:"consumerCryptoFailureAction,omitempty" json:"consumerCryptoFailureAction,omitempty"`
}

// Resources are the instance's requested resources: CPU cores, RAM and disk
// in bytes.
type Resources struct {
	CPU  *float64 `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	RAM  *int64   `yaml:"ram,omitempty" json:"ram,omitempty"`
	Disk *int64   `yaml:"disk,omitempty" json:"disk,omitempty"`
}

// Values of the enumerated SinkConfig fields, spelled as Jackson reads them.
var (
	ProcessingGuaranteeValues  = []string{"ATLEAST_ONCE", "ATMOST_ONCE", "EFFECTIVELY_ONCE", "MANUAL"}
	SubscriptionPositionValues = []string{"Latest", "Earliest"}
)

// LoadSinkConfigFile reads a pulsar-admin sink config file, YAML or JSON.
// Unknown fields are errors, as pulsar-admin rejects them too.
func LoadSinkConfigFile(path string) (*SinkConfigFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileErrorf(path, 0, "%s", errtext.OneLine(err.Error()))
	}
	doc, err := parseDocument(path, data)
	if err != nil {
		return nil, err
	}
	return sinkConfigFromNode(path, doc)
}

// LoadSinkOrKeysFile reads either a pulsar-admin sink config file
// (recognized by its configs: block) or a plain file of sink keys, which is
// returned as the configs: block of an otherwise empty SinkConfigFile: a
// file of keys says nothing about inputs or subscriptions, so Pulsar's
// defaults hold for them.
func LoadSinkOrKeysFile(path string) (*SinkConfigFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileErrorf(path, 0, "%s", errtext.OneLine(err.Error()))
	}
	return sinkOrKeys(path, data)
}

func sinkOrKeys(path string, data []byte) (*SinkConfigFile, error) {
	doc, err := parseDocument(path, data)
	if err != nil {
		return nil, err
	}
	if mappingValue(doc, "configs") != nil {
		return sinkConfigFromNode(path, doc)
	}
	v, err := nodeValue(path, doc)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return &SinkConfigFile{Configs: m}, nil
}

// FromFile loads the sink configuration from a file LoadSinkOrKeysFile
// reads. secret is as for FromMap; for a sink config file,
// f.ClearTextSecrets() gives the secrets written in its secrets: block.
func FromFile(path string, secret func(string) (string, bool)) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fileErrorf(path, 0, "%s", errtext.OneLine(err.Error()))
	}
	return fromBytes(path, data, secret)
}

// fromBytes is FromFile on the file's content; name is for messages.
func fromBytes(path string, data []byte, secret func(string) (string, bool)) (*Config, []string, error) {
	f, err := sinkOrKeys(path, data)
	if err != nil {
		return nil, nil, err
	}
	return f.Sink(secret)
}

// Sink loads and validates the configs block, as FromMap.
func (f *SinkConfigFile) Sink(secret func(string) (string, bool)) (*Config, []string, error) {
	return FromMap(f.Configs, secret)
}

// ClearTextSecrets resolves secrets the way Pulsar's default clear-text
// secrets provider does (local run, process runtime): the value written in
// the secrets: block is the secret. Non-scalar entries are not resolved.
func (f *SinkConfigFile) ClearTextSecrets() func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := f.Secrets[name]
		if !ok || v == nil {
			return "", false
		}
		return toString(v)
	}
}

// String renders the file as JSON with the sink's secret config values and
// every secrets: value redacted.
func (f SinkConfigFile) String() string {
	r := f
	if f.Configs != nil {
		r.Configs = make(map[string]any, len(f.Configs))
		for k, v := range f.Configs {
			if sp, ok := specByName[k]; ok && sp.kind == kSecret && v != nil {
				v = redacted
			}
			r.Configs[k] = v
		}
	}
	if f.Secrets != nil {
		r.Secrets = make(map[string]any, len(f.Secrets))
		for k := range f.Secrets {
			r.Secrets[k] = redacted
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "conf.SinkConfigFile{?}"
	}
	return string(b)
}

// GoString is String for %#v.
func (f SinkConfigFile) GoString() string { return "conf.SinkConfigFile" + f.String() }

// Format routes every verb through String: the file holds secrets in clear
// text, which fmt would otherwise print field by field for verbs like %d.
func (f SinkConfigFile) Format(s fmt.State, verb rune) {
	if verb == 'v' && s.Flag('#') {
		fmt.Fprint(s, f.GoString())
		return
	}
	fmt.Fprint(s, f.String())
}

func fileErrorf(path string, line int, format string, args ...any) error {
	prefix := fmt.Sprintf("sink config file %s: ", quote(path))
	if line > 0 {
		prefix += fmt.Sprintf("line %d: ", line)
	}
	return errors.New(prefix + fmt.Sprintf(format, args...))
}

// parseDocument parses a YAML or JSON file (JSON is read as YAML) into its
// root mapping node.
func parseDocument(path string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fileErrorf(path, 0, "%s", errtext.OneLine(err.Error()))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fileErrorf(path, 0, "the file is empty")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fileErrorf(path, root.Line, "must be a map of keys, got a %s", nodeKindName(root))
	}
	return root, nil
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.MappingNode:
		return "map"
	}
	return "value"
}

// mappingValue returns the value node of key in a mapping node, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// nodeValue converts a node to plain Go values, with errors naming the file
// and line.
func nodeValue(path string, n *yaml.Node) (any, error) {
	v, err := yamlvalue.Value(n)
	var ye *yamlvalue.Error
	if errors.As(err, &ye) {
		return nil, fileErrorf(path, ye.Line, "%s", ye.Msg)
	}
	return v, err
}

func sinkConfigFromNode(path string, doc *yaml.Node) (*SinkConfigFile, error) {
	if err := checkFields(path, doc, reflect.TypeFor[SinkConfigFile](), ""); err != nil {
		return nil, err
	}
	// configs and secrets go through nodeValue, for the same scalar rules as
	// a plain config file.
	blocks := map[string]map[string]any{}
	for _, key := range []string{"configs", "secrets"} {
		n := mappingValue(doc, key)
		if n == nil || n.Tag == "!!null" {
			continue
		}
		v, err := nodeValue(path, n)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fileErrorf(path, n.Line, "%s must be a map, got a %s", quote(key), nodeKindName(n))
		}
		blocks[key] = m
	}
	var f SinkConfigFile
	if err := doc.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fileErrorf(path, 0, "%s", strings.Join(te.Errors, "; "))
		}
		return nil, fileErrorf(path, 0, "%s", errtext.OneLine(err.Error()))
	}
	f.Configs, f.Secrets = blocks["configs"], blocks["secrets"]
	if err := f.validate(path); err != nil {
		return nil, err
	}
	return &f, nil
}

// checkFields reports the first mapping key that has no field in t, with a
// suggestion; for a sink key at the top level, it says to move it under
// configs:.
func checkFields(path string, n *yaml.Node, t reflect.Type, where string) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			fields[name] = t.Field(i).Type
			names = append(names, name)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				msg := fmt.Sprintf("unknown field %s", quote(where+k))
				if where == "" && specByName[k] != nil {
					msg += "; sink settings go under \"configs:\""
				} else if s := suggest(k, names); s != "" {
					msg += "; did you mean " + quote(where+s) + "?"
				}
				return fileErrorf(path, n.Content[i].Line, "%s", msg)
			}
			if seen[k] {
				return fileErrorf(path, n.Content[i].Line, "field %s appears twice", quote(where+k))
			}
			seen[k] = true
			if err := checkFields(path, n.Content[i+1], ft, where+k+"."); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkFields(path, n.Content[i+1], t.Elem(), where+n.Content[i].Value+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *SinkConfigFile) validate(path string) error {
	bad := func(key, format string, args ...any) error {
		return fileErrorf(path, 0, "%s: %s", quote(key), fmt.Sprintf(format, args...))
	}
	if f.ProcessingGuarantees != "" && !slices.Contains(ProcessingGuaranteeValues, f.ProcessingGuarantees) {
		return bad("processingGuarantees", "must be one of %s, got %s", strings.Join(ProcessingGuaranteeValues, ", "), quote(f.ProcessingGuarantees))
	}
	if f.SourceSubscriptionPosition != "" && !slices.Contains(SubscriptionPositionValues, f.SourceSubscriptionPosition) {
		return bad("sourceSubscriptionPosition", "must be one of %s, got %s", strings.Join(SubscriptionPositionValues, ", "), quote(f.SourceSubscriptionPosition))
	}
	if f.Parallelism != nil && *f.Parallelism < 1 {
		return bad("parallelism", "must be an integer of at least 1, got %d", *f.Parallelism)
	}
	if f.TimeoutMs != nil && *f.TimeoutMs < 0 {
		return bad("timeoutMs", "must be an integer of at least 0 (milliseconds), got %d", *f.TimeoutMs)
	}
	if f.NegativeAckRedeliveryDelayMs != nil && *f.NegativeAckRedeliveryDelayMs < 0 {
		return bad("negativeAckRedeliveryDelayMs", "must be an integer of at least 0 (milliseconds), got %d", *f.NegativeAckRedeliveryDelayMs)
	}
	if r := f.Resources; r != nil {
		if r.CPU != nil && *r.CPU <= 0 {
			return bad("resources.cpu", "must be a number above 0, got %g", *r.CPU)
		}
		if r.RAM != nil && *r.RAM <= 0 {
			return bad("resources.ram", "must be an integer above 0 (bytes), got %d", *r.RAM)
		}
		if r.Disk != nil && *r.Disk <= 0 {
			return bad("resources.disk", "must be an integer above 0 (bytes), got %d", *r.Disk)
		}
	}
	return nil
}
