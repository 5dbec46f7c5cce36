package runtime

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// LoadInstanceConfig reads the instance configuration the way the official
// Go instance's GetConf does, then merges, defaults and validates it:
//
//   - confPath (-instance-conf-path), when set, is a YAML file read first. A
//     missing file is tolerated only when confJSON is also given, because the
//     official instance has a default path that usually does not exist under
//     the worker.
//   - confJSON (-instance-conf), when set, is applied on top: its keys
//     replace the file's (sourceInputSpecs entries are merged per topic, as
//     encoding/json does when decoding into an existing map). One surrounding
//     pair of single quotes is stripped: the Kubernetes runtime adds them.
//   - Both empty is an error.
//
// Unknown keys are ignored everywhere, because newer workers add keys. The
// working directory is never changed (the official init() moves it to the
// parent; nothing here depends on that). Every error is one line that starts
// with "instance conf:" and names the offending key; secret values
// (clientAuthenticationParameters, secretsMap, userConfig) are never echoed.
func LoadInstanceConfig(confJSON, confPath string) (*InstanceConfig, error) {
	m, err := readConfSources(confJSON, confPath)
	if err != nil {
		return nil, err
	}
	rc, err := decodeRawConf(m)
	if err != nil {
		return nil, err
	}
	fd, err := parseFunctionDetails(string(rc.FunctionDetails))
	if err != nil {
		return nil, err
	}
	b, err := buildInstanceConfig(rc, fd)
	if err != nil {
		return nil, err
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return b.c, nil
}

// rawConf holds every key of -instance-conf (the worker's GoInstanceConfig,
// Function Mesh's GoFunctionConf, apache's conf.yaml). JSON and YAML use the
// same keys, given in the conf tags. It is decoded from a generic map rather
// than with encoding/json so that each type error can name its key and so
// that values Jackson or a human might write as strings are still accepted.
type rawConf struct {
	// FunctionDetails is the full FunctionDetails as protobuf JSON, sent by
	// workers since apache/pulsar#22350 (2024); authoritative when present.
	FunctionDetails jsonText `conf:"functionDetails"`

	PulsarServiceURL       string `conf:"pulsarServiceURL"`
	StateStorageServiceURL string `conf:"stateStorageServiceUrl"`
	PulsarWebServiceURL    string `conf:"pulsarWebServiceUrl"`

	// InstanceID is this instance's index (Function Mesh: the pod's shard).
	InstanceID  int32  `conf:"instanceID"`
	FuncID      string `conf:"funcID"`
	FuncVersion string `conf:"funcVersion"`
	// MaxBufTuples is a buffer size hint.
	MaxBufTuples int32 `conf:"maxBufTuples"`
	// Port is the gRPC InstanceControl port the worker dials on 127.0.0.1.
	Port int32 `conf:"port"`
	// MetricsPort is the Prometheus port; 0 = no metrics server.
	MetricsPort int32  `conf:"metricsPort"`
	ClusterName string `conf:"clusterName"`
	// KillAfterIdleMs: exit after this long without messages; 0 = never.
	KillAfterIdleMs int64 `conf:"killAfterIdleMs"`
	// ExpectedHealthCheckInterval is in seconds; <= 0 turns the self-stop
	// off (the worker never sets it, Function Mesh sends -1).
	ExpectedHealthCheckInterval int32 `conf:"expectedHealthCheckInterval"`

	Tenant    string `conf:"tenant"`
	NameSpace string `conf:"nameSpace"` // capital S, as the worker writes it
	Name      string `conf:"name"`
	// ClassName is meaningless for Go; read only so it is documented.
	ClassName string `conf:"className"`
	LogTopic  string `conf:"logTopic"`
	// ProcessingGuarantees: 0 ATLEAST_ONCE, 1 ATMOST_ONCE, 2 EFFECTIVELY_ONCE
	// (refused), 3 MANUAL. Enum names are accepted too.
	ProcessingGuarantees int32 `conf:"processingGuarantees"`
	// Runtime must be 3 (GO) when set.
	Runtime int32 `conf:"runtime"`
	// SecretsMap and UserConfig are JSON objects serialised as strings; a
	// YAML mapping is accepted as well.
	SecretsMap jsonText `conf:"secretsMap"`
	UserConfig jsonText `conf:"userConfig"`
	// AutoAck: presence matters, see resolveAutoAck.
	AutoAck     bool  `conf:"autoAck"`
	Parallelism int32 `conf:"parallelism"`

	ClientAuthenticationPlugin     string `conf:"clientAuthenticationPlugin"`
	ClientAuthenticationParameters string `conf:"clientAuthenticationParameters"`
	TLSTrustCertsFilePath          string `conf:"tlsTrustCertsFilePath"`
	TLSAllowInsecureConnection     bool   `conf:"tlsAllowInsecureConnection"`
	TLSHostnameVerificationEnable  bool   `conf:"tlsHostnameVerificationEnable"`

	// SubscriptionType: 0 SHARED, 1 FAILOVER, 2 KEY_SHARED. The worker always
	// writes 0 here; the real value is only in functionDetails.source.
	SubscriptionType int32 `conf:"subscriptionType"`
	// TimeoutMs is the ack timeout in milliseconds; 0 = none.
	TimeoutMs uint64 `conf:"timeoutMs"`
	// SubscriptionName "" means tenant/namespace/name.
	SubscriptionName    string `conf:"subscriptionName"`
	CleanupSubscription bool   `conf:"cleanupSubscription"`
	// SubscriptionPosition: 0 LATEST, 1 EARLIEST.
	SubscriptionPosition int32 `conf:"subscriptionPosition"`

	// SourceInputSpecs maps each input topic to the protobuf-JSON text of its
	// ConsumerSpec (a YAML mapping is accepted as well).
	SourceInputSpecs map[string]string `conf:"sourceInputSpecs"`
	// SourceSpecsTopic is the deprecated single input (the worker repeats the
	// last input topic; Function Mesh sends only its first topic here), with
	// its own schema type, regex flag and receiver queue size.
	SourceSpecsTopic           string `conf:"sourceSpecsTopic"`
	SourceSchemaType           string `conf:"sourceSchemaType"`
	IsRegexPatternSubscription bool   `conf:"isRegexPatternSubscription"`
	// RegexPatternSubscription is the name Jackson derives from the Lombok
	// getter isRegexPatternSubscription(); the two are OR-ed.
	RegexPatternSubscription bool  `conf:"regexPatternSubscription"`
	ReceiverQueueSize        int32 `conf:"receiverQueueSize"`

	// SinkSpecsTopic is the output topic; this binary is a sink and refuses one.
	SinkSpecsTopic string `conf:"sinkSpecsTopic"`
	SinkSchemaType string `conf:"sinkSchemaType"`

	CPU  float64 `conf:"cpu"`
	RAM  int64   `conf:"ram"`  // bytes
	Disk int64   `conf:"disk"` // bytes

	// MaxMessageRetries <= 0 means no dead-letter policy.
	MaxMessageRetries int32  `conf:"maxMessageRetries"`
	DeadLetterTopic   string `conf:"deadLetterTopic"`

	// present records which keys were given at all (by conf tag), for the
	// few settings where absence and the zero value mean different things.
	present map[string]bool
}

// jsonText is a string field whose content is JSON. YAML writers may give
// the object itself instead of its text; it is re-serialised then.
type jsonText string

var jsonTextType = reflect.TypeOf(jsonText(""))

// confEnumNames lets flat enum keys carry names ("MANUAL") as well as the
// numbers the worker writes; humans writing YAML use either.
var confEnumNames = map[string]map[string]int32{
	"processingGuarantees": pb.ProcessingGuarantees_value,
	"subscriptionType":     pb.SubscriptionType_value,
	"subscriptionPosition": pb.SubscriptionPosition_value,
	"runtime":              pb.FunctionDetails_Runtime_value,
}

// maxDurationMs is the largest millisecond count a time.Duration holds.
const maxDurationMs = math.MaxInt64 / int64(time.Millisecond)

func confErrorf(format string, args ...any) error {
	return errors.New("instance conf: " + errtext.OneLine(fmt.Sprintf(format, args...)))
}
