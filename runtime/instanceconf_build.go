package runtime

// Building the InstanceConfig from rawConf and FunctionDetails
// (docs/functions-contract.md §1.1, §2).

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

// The pick helpers implement "functionDetails is authoritative for what it
// contains, the flat keys fill in the rest". protobuf JSON omits zero
// values, so for the details "contains" can only mean "is non-zero"; the
// worker derives both from the same FunctionDetails, so whenever the details
// hold a zero the flat key holds the same zero (or, for subscriptionType, a
// meaningless 0 that must not override).
func pickString(fdVal, flatVal string) string {
	if fdVal != "" {
		return fdVal
	}
	return flatVal
}

// pickInt32 also returns the key the value came from, for error messages.
func pickInt32(fdVal int32, fdKey string, flatVal int32, flatKey string) (int32, string) {
	if fdVal != 0 {
		return fdVal, fdKey
	}
	return flatVal, flatKey
}

// builtConf is an assembled InstanceConfig with what validate needs to name
// the key behind a value: where FunctionDetails and the flat keys both
// could give it, the one that did, and raw numbers before they are mapped.
type builtConf struct {
	c *InstanceConfig

	instanceID      int32
	killAfterIdleMs int64

	runtime, guarantees, parallelism, subType, subPos                int32
	runtimeKey, guaranteesKey, parallelismKey, subTypeKey, subPosKey string
	sinkTopicKey                                                     string
}

// buildInstanceConfig assembles the InstanceConfig from the flat keys and
// FunctionDetails (which wins where it has a value). Its only errors are
// values that do not decode (JSON objects, input specs, durations); what
// the values must satisfy is validate's.
func buildInstanceConfig(rc *rawConf, fd *pb.FunctionDetails) (*builtConf, error) {
	src := fd.GetSource()
	c := &InstanceConfig{
		Tenant:          pickString(fd.GetTenant(), rc.Tenant),
		Namespace:       pickString(fd.GetNamespace(), rc.NameSpace),
		Name:            pickString(fd.GetName(), rc.Name),
		InstanceID:      int(rc.InstanceID),
		FuncID:          rc.FuncID,
		FuncVersion:     rc.FuncVersion,
		ClusterName:     rc.ClusterName,
		ServiceURL:      strings.TrimSpace(rc.PulsarServiceURL),
		WebServiceURL:   strings.TrimSpace(rc.PulsarWebServiceURL),
		StateStorageURL: strings.TrimSpace(rc.StateStorageServiceURL),
		Port:            int(rc.Port),
		MetricsPort:     int(rc.MetricsPort),
		MaxBufTuples:    int(rc.MaxBufTuples),
		KillAfterIdle:   time.Duration(rc.KillAfterIdleMs) * time.Millisecond,
		// Seconds, unlike every other duration key (official Go Conf).
		ExpectedHealthCheckInterval: time.Duration(rc.ExpectedHealthCheckInterval) * time.Second,
		LogTopic:                    pickString(fd.GetLogTopic(), rc.LogTopic),
		RetainOrdering:              fd.GetRetainOrdering(),
		RetainKeyOrdering:           fd.GetRetainKeyOrdering(),

		AuthPlugin:                 strings.TrimSpace(rc.ClientAuthenticationPlugin),
		AuthParams:                 rc.ClientAuthenticationParameters,
		TLSTrustCertsFilePath:      rc.TLSTrustCertsFilePath,
		TLSAllowInsecureConnection: rc.TLSAllowInsecureConnection,
		TLSHostnameVerification:    rc.TLSHostnameVerificationEnable,

		SubscriptionName:    pickString(src.GetSubscriptionName(), rc.SubscriptionName),
		CleanupSubscription: src.GetCleanupSubscription() || rc.CleanupSubscription,
		DeadLetterTopic:     pickString(fd.GetRetryDetails().GetDeadLetterTopic(), rc.DeadLetterTopic),
		SinkTopic:           strings.TrimSpace(pickString(fd.GetSink().GetTopic(), rc.SinkSpecsTopic)),
	}
	b := &builtConf{c: c, instanceID: rc.InstanceID, killAfterIdleMs: rc.KillAfterIdleMs,
		sinkTopicKey: pickKey(fd.GetSink().GetTopic(), "functionDetails.sink.topic", "sinkSpecsTopic")}

	b.runtime, b.runtimeKey = pickInt32(int32(fd.GetRuntime()), "functionDetails.runtime", rc.Runtime, "runtime")
	b.guarantees, b.guaranteesKey = pickInt32(int32(fd.GetProcessingGuarantees()), "functionDetails.processingGuarantees", rc.ProcessingGuarantees, "processingGuarantees")
	c.ProcessingGuarantees = ProcessingGuarantee(b.guarantees)
	c.AutoAck = resolveAutoAck(rc, fd)
	b.parallelism, b.parallelismKey = pickInt32(fd.GetParallelism(), "functionDetails.parallelism", rc.Parallelism, "parallelism")
	c.Parallelism = max(int(b.parallelism), 1)

	var err error
	if c.UserConfig, err = decodeJSONObject(pickString(fd.GetUserConfig(), string(rc.UserConfig)),
		pickKey(fd.GetUserConfig(), "functionDetails.userConfig", "userConfig")); err != nil {
		return nil, err
	}
	if c.SecretsMap, err = decodeJSONObject(pickString(fd.GetSecretsMap(), string(rc.SecretsMap)),
		pickKey(fd.GetSecretsMap(), "functionDetails.secretsMap", "secretsMap")); err != nil {
		return nil, err
	}
	if c.Inputs, err = resolveInputs(rc, src); err != nil {
		return nil, err
	}
	if c.SubscriptionName == "" {
		c.SubscriptionName = c.FQFN()
	}

	b.subType, b.subTypeKey = pickInt32(int32(src.GetSubscriptionType()), "functionDetails.source.subscriptionType", rc.SubscriptionType, "subscriptionType")
	c.SubscriptionType = SubscriptionType(b.subType)
	// The worker turns --retain-ordering into FAILOVER and
	// --retain-key-ordering into KEY_SHARED; details that carry only the flag
	// (SHARED being the omitted default) get the same mapping. A flag that
	// contradicts an explicit other type is validate's to refuse.
	switch {
	case c.RetainOrdering && c.RetainKeyOrdering:
	case c.RetainOrdering && c.SubscriptionType == Shared:
		c.SubscriptionType = Failover
	case c.RetainKeyOrdering && c.SubscriptionType == Shared:
		c.SubscriptionType = KeyShared
	}
	if err := c.TakeKeyOrderingFromUserConfig(); err != nil {
		return nil, err
	}

	b.subPos, b.subPosKey = pickInt32(int32(src.GetSubscriptionPosition()), "functionDetails.source.subscriptionPosition", 0, "")
	b.subPos, b.subPosKey = pickInt32(b.subPos, b.subPosKey, int32(fd.GetSubscriptionPosition()), "functionDetails.subscriptionPosition")
	b.subPos, b.subPosKey = pickInt32(b.subPos, b.subPosKey, rc.SubscriptionPosition, "subscriptionPosition")
	c.SubscriptionPosition = SubscriptionPosition(b.subPos)

	timeoutMs := src.GetTimeoutMs()
	if timeoutMs == 0 {
		timeoutMs = rc.TimeoutMs
	}
	if c.AckTimeout, err = msDuration("timeoutMs", timeoutMs); err != nil {
		return nil, err
	}
	if c.NegativeAckRedeliveryDelay, err = msDuration("functionDetails.source.negativeAckRedeliveryDelayMs", src.GetNegativeAckRedeliveryDelayMs()); err != nil {
		return nil, err
	}

	retries, _ := pickInt32(fd.GetRetryDetails().GetMaxMessageRetries(), "", rc.MaxMessageRetries, "")
	c.MaxMessageRetries = int(retries)

	res := fd.GetResources()
	c.Resources = Resources{CPU: res.GetCpu(), RAM: res.GetRam(), Disk: res.GetDisk()}
	if c.Resources.CPU == 0 {
		c.Resources.CPU = rc.CPU
	}
	if c.Resources.RAM == 0 {
		c.Resources.RAM = rc.RAM
	}
	if c.Resources.Disk == 0 {
		c.Resources.Disk = rc.Disk
	}
	return b, nil
}

// UserConfigKeyOrdering is the user config key that asks for a KEY_SHARED
// subscription. The worker refuses --retain-key-ordering for Go functions,
// yet KEY_SHARED is the subscription that keeps a key's records in order
// while instances join and leave on a backlog (FAILOVER hands a partition to
// a newcomer while the previous consumer still holds records of it), so the
// runtime takes the request from the user config and removes the key before
// the sink sees it.
const UserConfigKeyOrdering = "retainKeyOrdering"

// TakeKeyOrderingFromUserConfig applies and removes UserConfigKeyOrdering;
// every way of building an instance config (the worker's conf, localrun)
// calls it once the subscription type from the contract is known.
func (c *InstanceConfig) TakeKeyOrderingFromUserConfig() error {
	v, ok := c.UserConfig[UserConfigKeyOrdering]
	if !ok {
		return nil
	}
	delete(c.UserConfig, UserConfigKeyOrdering)
	key := "userConfig." + UserConfigKeyOrdering
	on, err := confBool(key, v)
	if err != nil || !on {
		return err
	}
	switch c.SubscriptionType {
	case Failover:
		return confErrorf("%q: asks for a KEY_SHARED subscription, but retainOrdering already chose FAILOVER: keep one of them (KEY_SHARED keeps each key's order also while instances join and leave)", key)
	case Shared:
		c.SubscriptionType = KeyShared
	}
	c.RetainKeyOrdering = true
	return nil
}

func pickKey(fdVal, fdKey, flatKey string) string {
	if fdVal != "" {
		return fdKey
	}
	return flatKey
}

// resolveAutoAck decides autoAck from two sources that can each be silent:
//
//   - protobuf JSON omits false, so functionDetails can only say "true";
//     when it does, that wins (the flat key is then also true in every
//     worker we know, but must not be needed).
//   - the flat key: RU calls setAutoAck only when true, but Jackson writes
//     every field of GoInstanceConfig, so the key is present and false when
//     unset (checked against Pulsar 4.0.8: `--auto-ack false` arrives as
//     "autoAck":false with no autoAck in functionDetails). Function Mesh
//     always writes it too. So when present, the flat key is the answer.
//   - neither present: only hand-written YAML/JSON gets here, and the
//     least surprising reading is the default of `functions create`,
//     autoAck=true. Reading absence as false would make such a conf fail the
//     autoAck/guarantee check below for no visible reason.
func resolveAutoAck(rc *rawConf, fd *pb.FunctionDetails) bool {
	if fd.GetAutoAck() {
		return true
	}
	if rc.present["autoAck"] {
		return rc.AutoAck
	}
	return true
}

// decodeJSONObject decodes userConfig/secretsMap. Numbers become float64, as
// everywhere else that reads userConfig (the worker's Gson already turns
// integers into 3.0). The content is never echoed: it may hold secrets.
func decodeJSONObject(s, key string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, confErrorf("%q: must be a JSON object, got invalid JSON: %v", key, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, confErrorf("%q: must be a JSON object, got %s", key, jsonKind(v))
	}
	return obj, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func msDuration(key string, ms uint64) (time.Duration, error) {
	if ms > uint64(maxDurationMs) {
		return 0, confErrorf("%q: must be at most %d milliseconds, got %d", key, maxDurationMs, ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// resolveInputs takes the inputs from functionDetails.source when it names
// any; otherwise (older workers, Function Mesh, YAML) from the flat keys.
// The result is sorted by topic so consumers are created in a stable order.
func resolveInputs(rc *rawConf, src *pb.SourceSpec) ([]InputSpec, error) {
	byTopic := map[string]InputSpec{}
	for topic, cs := range src.GetInputSpecs() {
		in, err := inputFromConsumerSpec(topic, cs, fmt.Sprintf("functionDetails.source.inputSpecs[%q]", topic))
		if err != nil {
			return nil, err
		}
		byTopic[in.Topic] = in
	}
	// Deprecated forms still accepted by the worker's proto.
	for topic := range src.GetTopicsToSerDeClassName() {
		if _, ok := byTopic[topic]; !ok && strings.TrimSpace(topic) != "" {
			byTopic[topic] = InputSpec{Topic: topic}
		}
	}
	if p := src.GetTopicsPattern(); p != "" {
		if _, ok := byTopic[p]; !ok {
			byTopic[p] = InputSpec{Topic: p, IsRegex: true}
		}
	}

	if len(byTopic) == 0 {
		for topic, text := range rc.SourceInputSpecs {
			where := fmt.Sprintf("sourceInputSpecs[%q]", topic)
			cs := &pb.ConsumerSpec{}
			if strings.TrimSpace(text) != "" {
				if err := detailsUnmarshal.Unmarshal([]byte(text), cs); err != nil {
					return nil, confErrorf("%s: invalid ConsumerSpec protobuf JSON: %v", where, err)
				}
			}
			in, err := inputFromConsumerSpec(topic, cs, where)
			if err != nil {
				return nil, err
			}
			byTopic[in.Topic] = in
		}
		// The deprecated single input repeats one of the map's topics (the
		// worker's last one) or stands alone (Function Mesh, YAML). Its own
		// keys only fill what the ConsumerSpec left unset.
		if topic := strings.TrimSpace(rc.SourceSpecsTopic); topic != "" {
			if rc.ReceiverQueueSize < 0 {
				return nil, confErrorf("%q: must be >= 0 (0 = client default), got %d", "receiverQueueSize", rc.ReceiverQueueSize)
			}
			in := byTopic[topic]
			in.Topic = topic
			in.IsRegex = in.IsRegex || rc.IsRegexPatternSubscription || rc.RegexPatternSubscription
			if in.SchemaType == "" {
				in.SchemaType = rc.SourceSchemaType
			}
			if in.ReceiverQueueSize == 0 {
				in.ReceiverQueueSize = int(rc.ReceiverQueueSize)
			}
			byTopic[topic] = in
		}
	}

	topics := make([]string, 0, len(byTopic))
	for t := range byTopic {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	out := make([]InputSpec, 0, len(topics))
	for _, t := range topics {
		out = append(out, byTopic[t])
	}
	return out, nil
}

func inputFromConsumerSpec(topic string, cs *pb.ConsumerSpec, where string) (InputSpec, error) {
	topic = strings.TrimSpace(topic)
	if topic == "" {
		return InputSpec{}, confErrorf("%s: the topic name is empty", where)
	}
	in := InputSpec{
		Topic:      topic,
		IsRegex:    cs.GetIsRegexPattern(),
		SchemaType: cs.GetSchemaType(),
	}
	if q := cs.GetReceiverQueueSize(); q != nil {
		if q.GetValue() < 0 {
			return InputSpec{}, confErrorf("%s: receiverQueueSize must be >= 0 (0 = client default), got %d", where, q.GetValue())
		}
		in.ReceiverQueueSize = int(q.GetValue())
	}
	if props := cs.GetConsumerProperties(); len(props) > 0 {
		in.ConsumerProperties = make(map[string]string, len(props))
		for k, v := range props {
			in.ConsumerProperties[k] = v
		}
	}
	if crypto := cs.GetCryptoSpec(); crypto != nil {
		action := crypto.GetConsumerCryptoFailureAction()
		switch action {
		case pb.CryptoSpec_FAIL, pb.CryptoSpec_DISCARD, pb.CryptoSpec_CONSUME:
			in.CryptoFailureAction = action.String()
		default:
			return InputSpec{}, confErrorf("%s: cryptoSpec.consumerCryptoFailureAction must be FAIL, DISCARD or CONSUME, got %s", where, action)
		}
	}
	return in, nil
}
