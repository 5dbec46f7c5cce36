package deploy

// `kinesis-sink localrun`: the sink config file goes through the same
// translation as for deploy (translate.go), and the FunctionConfig it gives
// becomes the instance config the way the worker would make it for a Go
// instance. So a file means one thing, deployed or run by hand; only what a
// worker would decide (the instance's index, its ports, the broker URL,
// client authentication) comes from localrun's flags.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// LocalOptions are localrun's flags. The strings that name a sink config
// file field replace the file's value when not empty, as pulsar-admin's
// localrun flags do.
type LocalOptions struct {
	// File is a pulsar-admin sink config file or a plain file of sink keys.
	File string

	Tenant, Namespace, Name string
	// Inputs replaces the file's inputs; the topics of its inputSpecs and
	// its topicsPattern are still read, as the worker reads them.
	Inputs               []string
	TopicsPattern        string
	SubscriptionName     string
	SubscriptionPosition string
	// Parallelism is how many instances run in all (0: the file's).
	Parallelism int

	// SubscriptionType is Shared, Failover or Key_Shared ("": what the file
	// says, Failover with retainOrdering, else Shared).
	SubscriptionType string
	InstanceID       int
	ServiceURL       string
	// Port and MetricsPort are the control and metrics ports (0: off).
	Port, MetricsPort       int
	AuthPlugin, AuthParams  string
	TLSTrustCertPath        string
	TLSAllowInsecure        bool
	TLSHostnameVerification bool
}

// defaultLocalName names the function when neither the file nor --name
// does; deploy has no default (it would create or delete a guess).
const defaultLocalName = "kinesis-sink"

// Local is what localrun runs: the instance config, and the secrets as the
// clear-text secrets provider of a local run resolves them.
type Local struct {
	Config *runtime.InstanceConfig
	Secret func(string) (string, bool)
}

// LocalInstance reads o.File and builds the instance config. notes are the
// same notes and warnings deploy prints for the file (plus what localrun
// itself ignores), also when err is not nil.
func LocalInstance(o *LocalOptions) (*Local, []string, error) {
	f, err := conf.LoadSinkOrKeysFile(o.File)
	if err != nil {
		return nil, nil, err
	}
	if err := o.override(f); err != nil {
		return nil, nil, err
	}
	secret := localSecrets(f)
	fc, notes, err := translate(o.File, f, true, secret)
	if f.Archive != "" {
		notes = append(notes, fmt.Sprintf("archive %q: localrun runs this executable; ignored", f.Archive))
	}
	if errors.Is(err, errNoInputs) {
		err = fmt.Errorf("%w, or --inputs or --topics-pattern", err)
	}
	if err != nil {
		return nil, notes, err
	}
	c, err := instanceConfig(fc)
	if err != nil {
		return nil, notes, err
	}
	if err := o.apply(c); err != nil {
		return nil, notes, err
	}
	return &Local{Config: c, Secret: secret}, notes, nil
}

// override puts the flags that name sink config file fields into f, so that
// the translation sees one file.
func (o *LocalOptions) override(f *conf.SinkConfigFile) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&f.Tenant, o.Tenant)
	set(&f.Namespace, o.Namespace)
	set(&f.Name, o.Name)
	if f.Name == "" {
		f.Name = defaultLocalName
	}
	if o.Inputs != nil {
		f.Inputs = o.Inputs
	}
	set(&f.TopicsPattern, o.TopicsPattern)
	set(&f.SourceSubscriptionName, o.SubscriptionName)
	if p := o.SubscriptionPosition; p != "" {
		i := slices.IndexFunc(conf.SubscriptionPositionValues, func(v string) bool { return strings.EqualFold(v, p) })
		if i < 0 {
			return fmt.Errorf("--subscription-position: must be %s, got %q", strings.Join(conf.SubscriptionPositionValues, " or "), p)
		}
		f.SourceSubscriptionPosition = conf.SubscriptionPositionValues[i]
	}
	switch {
	case o.Parallelism < 0:
		return fmt.Errorf("--parallelism: must be at least 1, got %d", o.Parallelism)
	case o.Parallelism > 0:
		p := o.Parallelism
		f.Parallelism = &p
	}
	return nil
}

// apply sets what a worker would decide for the instance.
func (o *LocalOptions) apply(c *runtime.InstanceConfig) error {
	if o.InstanceID < 0 || o.InstanceID >= c.Parallelism {
		return fmt.Errorf("--instance-id: must be 0 to %d (parallelism %d), got %d", c.Parallelism-1, c.Parallelism, o.InstanceID)
	}
	c.InstanceID = o.InstanceID
	c.ServiceURL = o.ServiceURL
	c.Port, c.MetricsPort = o.Port, o.MetricsPort
	c.AuthPlugin, c.AuthParams = o.AuthPlugin, o.AuthParams
	c.TLSTrustCertsFilePath, c.TLSAllowInsecureConnection, c.TLSHostnameVerification =
		o.TLSTrustCertPath, o.TLSAllowInsecure, o.TLSHostnameVerification
	switch strings.ToLower(o.SubscriptionType) {
	case "":
		return nil
	case "shared":
		c.SubscriptionType = runtime.Shared
	case "failover":
		c.SubscriptionType = runtime.Failover
	case "key_shared", "keyshared":
		c.SubscriptionType = runtime.KeyShared
	default:
		return fmt.Errorf("--subscription-type: must be Shared, Failover or Key_Shared, got %q", o.SubscriptionType)
	}
	if c.RetainOrdering && c.SubscriptionType != runtime.Failover {
		return fmt.Errorf("--subscription-type %s: the sink config file's retainOrdering: true needs Failover; remove one of them", o.SubscriptionType)
	}
	if c.RetainKeyOrdering && c.SubscriptionType != runtime.KeyShared {
		return fmt.Errorf("--subscription-type %s: the sink config file's retainKeyOrdering: true needs Key_Shared; remove one of them", o.SubscriptionType)
	}
	return nil
}

// localSecrets resolves secrets from the file's secrets: block (clear text,
// as pulsar-admin's local run), then from the environment.
func localSecrets(f *conf.SinkConfigFile) func(string) (string, bool) {
	clear := f.ClearTextSecrets()
	return func(name string) (string, bool) {
		if v, ok := clear(name); ok {
			return v, true
		}
		return os.LookupEnv(name)
	}
}

// instanceConfig is what the worker makes of a Go function's FunctionConfig
// (Pulsar's FunctionConfigUtils, then the instance's reading of it), for a
// local run. translate has already refused what the worker refuses.
func instanceConfig(fc *functionConfig) (*runtime.InstanceConfig, error) {
	c := &runtime.InstanceConfig{
		Tenant: fc.Tenant, Namespace: fc.Namespace, Name: fc.Name,
		Parallelism: 1, AutoAck: fc.AutoAck == nil || *fc.AutoAck,
		LogTopic:            fc.LogTopic,
		CleanupSubscription: fc.CleanupSubscription == nil || *fc.CleanupSubscription,
		SubscriptionName:    fc.SubName,
	}
	if fc.Parallelism != nil {
		c.Parallelism = *fc.Parallelism
	}
	switch fc.ProcessingGuarantees {
	case "", "ATLEAST_ONCE":
	case "ATMOST_ONCE":
		c.ProcessingGuarantees = runtime.AtMostOnce
	case "MANUAL":
		c.ProcessingGuarantees = runtime.Manual
	default:
		return nil, fmt.Errorf("processingGuarantees %q: not supported for a Go function", fc.ProcessingGuarantees)
	}
	if fc.RetainOrdering != nil && *fc.RetainOrdering {
		c.RetainOrdering, c.SubscriptionType = true, runtime.Failover
	}
	if c.SubscriptionName == "" {
		c.SubscriptionName = c.FQFN()
	}
	if fc.SubscriptionPosition == "Earliest" {
		c.SubscriptionPosition = runtime.Earliest
	}
	// The worker redelivers negatively acked records after timeoutMs too.
	if fc.TimeoutMs != nil {
		c.AckTimeout = time.Duration(*fc.TimeoutMs) * time.Millisecond
		c.NegativeAckRedeliveryDelay = c.AckTimeout
	}
	// Pulsar's defaults for what the file leaves out (Resources.mergeWithDefault).
	c.Resources = runtime.Resources{CPU: 1, RAM: 1 << 30, Disk: 10 << 30}
	if r := fc.Resources; r != nil {
		if r.CPU != nil {
			c.Resources.CPU = *r.CPU
		}
		if r.RAM != nil {
			c.Resources.RAM = *r.RAM
		}
		if r.Disk != nil {
			c.Resources.Disk = *r.Disk
		}
	}

	// The worker hands userConfig and secrets over as JSON, so an instance
	// sees JSON's types (every number a float64); so does a local run.
	var err error
	if c.UserConfig, err = viaJSON(fc.UserConfig); err != nil {
		return nil, fmt.Errorf("configs: %v", err)
	}
	if c.SecretsMap, err = viaJSON(fc.Secrets); err != nil {
		return nil, fmt.Errorf("secrets: %v", err)
	}
	if err := c.TakeKeyOrderingFromUserConfig(); err != nil {
		return nil, err
	}

	// Inputs, then the pattern, then inputSpecs replacing an entry of the
	// same topic: the worker's order. The instance subscribes in topic order.
	byTopic := map[string]runtime.InputSpec{}
	for _, t := range fc.Inputs {
		t = strings.TrimSpace(t)
		byTopic[t] = runtime.InputSpec{Topic: t}
	}
	if p := fc.TopicsPattern; p != "" {
		byTopic[p] = runtime.InputSpec{Topic: p, IsRegex: true}
	}
	for t, s := range fc.InputSpecs {
		in := runtime.InputSpec{Topic: t, IsRegex: s.RegexPattern, SchemaType: s.SchemaType}
		if s.ReceiverQueueSize != nil {
			in.ReceiverQueueSize = *s.ReceiverQueueSize
		}
		if len(s.ConsumerProperties) > 0 {
			in.ConsumerProperties = maps.Clone(s.ConsumerProperties)
		}
		if s.CryptoConfig != nil {
			in.CryptoFailureAction = s.CryptoConfig.ConsumerCryptoFailureAction
			if in.CryptoFailureAction == "" {
				in.CryptoFailureAction = "FAIL"
			}
		}
		byTopic[t] = in
	}
	for _, t := range slices.Sorted(maps.Keys(byTopic)) {
		c.Inputs = append(c.Inputs, byTopic[t])
	}
	return c, nil
}

func viaJSON(m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// localView is the instance config as `localrun --dry-run` prints it.
type localView struct {
	Tenant                       string         `json:"tenant"`
	Namespace                    string         `json:"namespace"`
	Name                         string         `json:"name"`
	InstanceID                   int            `json:"instanceId"`
	Parallelism                  int            `json:"parallelism"`
	ServiceURL                   string         `json:"serviceUrl"`
	Inputs                       []inputView    `json:"inputs"`
	SubscriptionName             string         `json:"subscriptionName"`
	SubscriptionType             string         `json:"subscriptionType"`
	SubscriptionPosition         string         `json:"subscriptionPosition"`
	ProcessingGuarantees         string         `json:"processingGuarantees"`
	AutoAck                      bool           `json:"autoAck"`
	RetainOrdering               bool           `json:"retainOrdering"`
	AckTimeoutMs                 int64          `json:"ackTimeoutMs,omitempty"`
	NegativeAckRedeliveryDelayMs int64          `json:"negativeAckRedeliveryDelayMs,omitempty"`
	UserConfig                   map[string]any `json:"userConfig,omitempty"`
	Secrets                      map[string]any `json:"secrets,omitempty"`
}

type inputView struct {
	Topic               string            `json:"topic"`
	IsRegex             bool              `json:"regexPattern,omitempty"`
	ReceiverQueueSize   int               `json:"receiverQueueSize,omitempty"`
	SchemaType          string            `json:"schemaType,omitempty"`
	ConsumerProperties  map[string]string `json:"consumerProperties,omitempty"`
	CryptoFailureAction string            `json:"consumerCryptoFailureAction,omitempty"`
}

// DryRun renders the instance config for `localrun --dry-run`, secrets
// masked.
func (l *Local) DryRun() []byte {
	c := l.Config
	v := localView{
		Tenant: c.Tenant, Namespace: c.Namespace, Name: c.Name, InstanceID: c.InstanceID, Parallelism: c.Parallelism,
		ServiceURL: c.ServiceURL, SubscriptionName: c.SubscriptionName,
		SubscriptionType:             [...]string{"Shared", "Failover", "Key_Shared"}[c.SubscriptionType],
		SubscriptionPosition:         [...]string{"Latest", "Earliest"}[c.SubscriptionPosition],
		ProcessingGuarantees:         [...]string{"ATLEAST_ONCE", "ATMOST_ONCE", "EFFECTIVELY_ONCE", "MANUAL"}[c.ProcessingGuarantees],
		AutoAck:                      c.AutoAck,
		RetainOrdering:               c.RetainOrdering,
		AckTimeoutMs:                 c.AckTimeout.Milliseconds(),
		NegativeAckRedeliveryDelayMs: c.NegativeAckRedeliveryDelay.Milliseconds(),
	}
	for _, in := range c.Inputs {
		v.Inputs = append(v.Inputs, inputView(in))
	}
	v.UserConfig, v.Secrets = redacted(c.UserConfig, c.SecretsMap)
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}
