package runtime

import "time"

// ProcessingGuarantee mirrors FunctionDetails.ProcessingGuarantees.
type ProcessingGuarantee int32

const (
	AtLeastOnce     ProcessingGuarantee = 0
	AtMostOnce      ProcessingGuarantee = 1
	EffectivelyOnce ProcessingGuarantee = 2
	Manual          ProcessingGuarantee = 3
)

// SubscriptionType mirrors the contract's SubscriptionType.
type SubscriptionType int32

const (
	Shared    SubscriptionType = 0
	Failover  SubscriptionType = 1
	KeyShared SubscriptionType = 2
)

// SubscriptionPosition mirrors the contract's SubscriptionPosition.
type SubscriptionPosition int32

const (
	Latest   SubscriptionPosition = 0
	Earliest SubscriptionPosition = 1
)

// InputSpec is one consumer to create: a topic (or a regex pattern).
type InputSpec struct {
	Topic   string
	IsRegex bool
	// ReceiverQueueSize is 0 when not set (client default applies).
	ReceiverQueueSize  int
	SchemaType         string
	ConsumerProperties map[string]string
	// CryptoFailureAction is the consumer crypto failure action name
	// ("FAIL", "DISCARD", "CONSUME"); "" when no crypto spec was given.
	CryptoFailureAction string
}

// Resources are the instance's requested resources (informational).
type Resources struct {
	CPU  float64
	RAM  int64
	Disk int64
}

// InstanceConfig is the instance configuration after parsing: the flat keys
// and functionDetails merged, defaults applied, validated. It is what the
// rest of the runtime reads; nothing else looks at the raw -instance-conf.
type InstanceConfig struct {
	Tenant, Namespace, Name string
	InstanceID              int
	FuncID, FuncVersion     string
	ClusterName             string

	ServiceURL      string
	WebServiceURL   string
	StateStorageURL string

	// Port is the gRPC InstanceControl port; MetricsPort the Prometheus
	// port (0 = no metrics server).
	Port, MetricsPort int

	MaxBufTuples int
	// KillAfterIdle <= 0 means never.
	KillAfterIdle time.Duration
	// ExpectedHealthCheckInterval <= 0 turns the health-check self-stop off.
	ExpectedHealthCheckInterval time.Duration

	ProcessingGuarantees ProcessingGuarantee
	AutoAck              bool
	Parallelism          int
	LogTopic             string
	RetainOrdering       bool
	RetainKeyOrdering    bool

	// UserConfig is the decoded userConfig JSON object (nil when empty).
	UserConfig map[string]any
	// SecretsMap is the decoded secretsMap JSON object (nil when empty).
	SecretsMap map[string]any

	// Client authentication and TLS.
	AuthPlugin                 string
	AuthParams                 string
	TLSTrustCertsFilePath      string
	TLSAllowInsecureConnection bool
	TLSHostnameVerification    bool

	Inputs               []InputSpec
	SubscriptionName     string // never empty after parsing: default tenant/namespace/name
	SubscriptionType     SubscriptionType
	SubscriptionPosition SubscriptionPosition
	CleanupSubscription  bool
	// AckTimeout is 0 when not set (no ack timeout).
	AckTimeout time.Duration
	// NegativeAckRedeliveryDelay is 0 when not set (runtime default).
	NegativeAckRedeliveryDelay time.Duration
	// MaxMessageRetries <= 0 means no dead-letter policy.
	MaxMessageRetries int
	DeadLetterTopic   string

	// SinkTopic is the output topic; a sink has none, and one is refused.
	SinkTopic string
	Resources Resources
}

// FQFN is tenant/namespace/name, the function's fully qualified name.
func (c *InstanceConfig) FQFN() string { return c.Tenant + "/" + c.Namespace + "/" + c.Name }
