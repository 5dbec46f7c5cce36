package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"

	"github.com/pulsar-kinesis/kinesis-sink/internal/lenient"

	"github.com/pulsar-kinesis/kinesis-sink/internal/yamlvalue"
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

// readConfSources returns the merged top-level map of the YAML file and the
// JSON text, JSON winning.
func readConfSources(confJSON, confPath string) (map[string]any, error) {
	confJSON = strings.TrimSpace(confJSON)
	if len(confJSON) >= 2 && confJSON[0] == '\'' && confJSON[len(confJSON)-1] == '\'' {
		confJSON = strings.TrimSpace(confJSON[1 : len(confJSON)-1])
	}
	if confJSON == "" && confPath == "" {
		return nil, confErrorf("no configuration given: pass -instance-conf <json> or -instance-conf-path <yaml file>")
	}

	merged := map[string]any{}
	if confPath != "" {
		data, err := os.ReadFile(confPath)
		switch {
		case errors.Is(err, fs.ErrNotExist) && confJSON != "":
			// Tolerated like the official GetConf: the JSON is complete.
		case errors.Is(err, fs.ErrNotExist):
			return nil, confErrorf("-instance-conf-path %q: file not found and no -instance-conf given", confPath)
		case err != nil:
			return nil, confErrorf("-instance-conf-path %q: %v", confPath, err)
		default:
			doc, err := yamlvalue.Parse(data)
			if err != nil {
				return nil, confErrorf("invalid YAML in -instance-conf-path %q: %v", confPath, err)
			}
			switch d := doc.(type) {
			case nil:
			case map[string]any:
				merged = d
			default:
				return nil, confErrorf("-instance-conf-path %q: must hold a YAML mapping of keys, got %s", confPath, describeConfValue(d))
			}
		}
	}

	if confJSON != "" {
		var top map[string]json.RawMessage
		err := json.Unmarshal([]byte(confJSON), &top)
		if err != nil {
			if repaired, ok := repairFunctionMeshConf(confJSON); ok && json.Unmarshal([]byte(repaired), &top) == nil {
				err = nil
			}
		}
		if err != nil {
			var syn *json.SyntaxError
			var typ *json.UnmarshalTypeError
			switch {
			case errors.As(err, &syn) && !strings.HasPrefix(syn.Error(), "unexpected end"):
				// The offset helps find a stray character in a long line;
				// for truncated input it is just the length.
				return nil, confErrorf("invalid JSON in -instance-conf: %v (at byte %d)", err, syn.Offset)
			case errors.As(err, &typ):
				return nil, confErrorf("-instance-conf must be a JSON object, got %s", typ.Value)
			default:
				return nil, confErrorf("invalid JSON in -instance-conf: %v", err)
			}
		}
		if top == nil {
			return nil, confErrorf("-instance-conf must be a JSON object, got null")
		}
		for k, raw := range top {
			dec := json.NewDecoder(bytes.NewReader(raw))
			// Numbers stay exact (int64 ram/disk, uint64 timeoutMs).
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, confErrorf("%q: %v", k, err)
			}
			old, isMap := merged[k].(map[string]any)
			if nv, ok := v.(map[string]any); ok && isMap && k == "sourceInputSpecs" {
				for t, s := range nv {
					old[t] = s
				}
				continue
			}
			merged[k] = v
		}
	}
	return merged, nil
}

// repairFunctionMeshConf undoes what Function Mesh's launch line does to a
// JSON string field that itself holds JSON (userConfig, secretsMap). The
// controller replaces every '"' of the conf with '\"' and bash expands the
// result unquoted, so an inner escaped quote (\" in the JSON text) comes out
// as a lone backslash: {"path":"/x"} arrives as "{\path\:\/x\}", which is
// not valid JSON. Inside those two fields a mangled value holds no '"' at
// all, so it ends at the next quote, and putting the quotes back is exact
// as long as the original values held no backslash. The README tells
// Function Mesh users to keep config values free of quotes and backslashes
// (and whitespace, which bash would split on).
func repairFunctionMeshConf(conf string) (string, bool) {
	changed := false
	for _, key := range []string{"userConfig", "secretsMap"} {
		marker := `"` + key + `":"`
		i := strings.Index(conf, marker)
		if i < 0 {
			continue
		}
		start := i + len(marker)
		end := strings.IndexByte(conf[start:], '"')
		if end < 0 {
			return "", false
		}
		val := conf[start : start+end]
		if !strings.HasPrefix(val, "{\\") && val != "{}" {
			continue
		}
		inner := strings.ReplaceAll(val, "\\", `"`)
		if !json.Valid([]byte(inner)) {
			return "", false
		}
		quoted, _ := json.Marshal(inner)
		conf = conf[:start-1] + string(quoted) + conf[start+end+1:]
		changed = true
	}
	return conf, changed
}

// decodeRawConf fills rawConf from the merged map, one conf tag at a time.
// Keys are matched exactly first and then case-insensitively, as
// encoding/json (the official decoder) does.
func decodeRawConf(m map[string]any) (*rawConf, error) {
	folded := make(map[string]string, len(m))
	for k := range m {
		folded[strings.ToLower(k)] = k
	}
	rc := &rawConf{present: map[string]bool{}}
	rv := reflect.ValueOf(rc).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		key := rt.Field(i).Tag.Get("conf")
		if key == "" {
			continue
		}
		val, ok := m[key]
		if !ok {
			var actual string
			if actual, ok = folded[strings.ToLower(key)]; ok {
				val = m[actual]
			}
		}
		if !ok {
			continue
		}
		rc.present[key] = true
		if err := setConfField(rv.Field(i), key, val); err != nil {
			return nil, err
		}
	}
	return rc, nil
}

func setConfField(f reflect.Value, key string, val any) error {
	if f.Type() == jsonTextType {
		s, err := confJSONText(key, val)
		f.SetString(s)
		return err
	}
	switch f.Kind() {
	case reflect.String:
		s, err := confString(key, val)
		f.SetString(s)
		return err
	case reflect.Bool:
		b, err := confBool(key, val)
		f.SetBool(b)
		return err
	case reflect.Int32, reflect.Int64:
		n, err := confInt(key, val, f.Type().Bits())
		f.SetInt(n)
		return err
	case reflect.Uint64:
		n, err := confUint(key, val)
		f.SetUint(n)
		return err
	case reflect.Float64:
		x, err := confFloat(key, val)
		f.SetFloat(x)
		return err
	case reflect.Map:
		specs, err := confSpecMap(key, val)
		f.Set(reflect.ValueOf(specs))
		return err
	}
	panic("rawConf: unsupported field kind " + f.Kind().String())
}

// describeConfValue names a value's JSON type for error messages; scalars
// are shown (short) because they only come from non-secret keys.
func describeConfValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		if len(t) > 40 {
			t = t[:40] + "..."
		}
		return fmt.Sprintf("string %q", t)
	case bool:
		return fmt.Sprintf("boolean %t", t)
	case json.Number, int, int64, uint64, float64:
		return fmt.Sprintf("number %v", t)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

func confString(key string, v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case int, int64, uint64, float64, bool:
		// Unquoted YAML scalars such as `funcVersion: 1`.
		return fmt.Sprint(t), nil
	}
	return "", confErrorf("%q: must be a string, got %s", key, describeConfValue(v))
}

func confJSONText(key string, v any) (string, error) {
	if s, ok := jsonTextOf(v); ok {
		return s, nil
	}
	return "", confErrorf("%q: must be a string holding a JSON object, got %s", key, describeConfValue(v))
}

// jsonTextOf returns the JSON text held by v: the string itself, or an
// object re-serialised (YAML mappings). Decoded JSON and YAML values always
// marshal, so a marshal error cannot happen for the maps seen here.
func jsonTextOf(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	case map[string]any:
		b, err := json.Marshal(t)
		return string(b), err == nil
	}
	return "", false
}

func confBool(key string, v any) (bool, error) {
	if v == nil {
		return false, nil
	}
	if b, ok := lenient.Bool(v); ok {
		return b, nil
	}
	return false, confErrorf("%q: must be true or false, got %s", key, describeConfValue(v))
}

// confInt accepts JSON/YAML numbers, numbers written as strings (Jackson
// can be configured to), integral floats ("3.0") and, for enum keys, names.
func confInt(key string, v any, bits int) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return 0, nil
	}
	n, err := lenient.IntCoerced(v, bits)
	if err != nil {
		if errors.Is(err, lenient.ErrRange) {
			return 0, confErrorf("%q: must be an integer that fits %d bits, got %s", key, bits, describeConfValue(v))
		}
		if names, ok := confEnumNames[key]; ok {
			if s, isStr := v.(string); isStr {
				if n, ok := names[strings.ToUpper(strings.TrimSpace(s))]; ok {
					return int64(n), nil
				}
			}
			return 0, confErrorf("%q: must be an integer or one of %s, got %s", key, enumNameList(names), describeConfValue(v))
		}
		return 0, confErrorf("%q: must be an integer, got %s", key, describeConfValue(v))
	}
	return n, nil
}

func confUint(key string, v any) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return 0, nil
	}
	if n, err := lenient.Uint(v); err == nil {
		return n, nil
	}
	return 0, confErrorf("%q: must be a non-negative integer, got %s", key, describeConfValue(v))
}

func confFloat(key string, v any) (float64, error) {
	if v == nil {
		return 0, nil
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return 0, nil
	}
	if f, ok := lenient.Float(v); ok {
		return f, nil
	}
	return 0, confErrorf("%q: must be a number, got %s", key, describeConfValue(v))
}

func confSpecMap(key string, v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, confErrorf("%q: must be an object of topic -> ConsumerSpec JSON, got %s", key, describeConfValue(v))
	}
	out := make(map[string]string, len(obj))
	for topic, e := range obj {
		s, ok := jsonTextOf(e)
		if !ok {
			return nil, confErrorf("%s[%q]: must be a string holding ConsumerSpec JSON, got %s", key, topic, describeConfValue(e))
		}
		out[topic] = s
	}
	return out, nil
}

func enumNameList(names map[string]int32) string {
	type nv struct {
		n string
		v int32
	}
	list := make([]nv, 0, len(names))
	for n, v := range names {
		list = append(list, nv{n, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v < list[j].v })
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = e.n
	}
	return strings.Join(parts, ", ")
}

var detailsUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// parseFunctionDetails returns nil when the worker sent no functionDetails
// (older workers, Function Mesh, hand-written YAML). A value that does not
// parse is an error rather than a silent fall-back to the flat keys: the
// flat keys lose facts (the subscription type, for one), so consuming with
// them would quietly change the subscription.
func parseFunctionDetails(s string) (*pb.FunctionDetails, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fd := &pb.FunctionDetails{}
	if err := detailsUnmarshal.Unmarshal([]byte(s), fd); err != nil {
		return nil, confErrorf("%q: invalid FunctionDetails protobuf JSON: %v", "functionDetails", err)
	}
	return fd, nil
}

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

// validate checks what an assembled config must satisfy to run this sink,
// identity and endpoints first: later messages are easier to read once
// these are known good.
func (b *builtConf) validate() error {
	c := b.c
	for _, f := range []struct{ key, val string }{
		{"tenant", c.Tenant}, {"nameSpace", c.Namespace}, {"name", c.Name},
	} {
		if strings.TrimSpace(f.val) == "" {
			return confErrorf("%q: is required (the function's tenant/namespace/name), got none", f.key)
		}
		if strings.Contains(f.val, "/") {
			return confErrorf("%q: must not contain '/', got %q", f.key, f.val)
		}
	}
	if err := checkServiceURL(c.ServiceURL); err != nil {
		return err
	}
	if b.instanceID < 0 {
		return confErrorf("%q: must be >= 0, got %d", "instanceID", b.instanceID)
	}
	if c.Port < 1 || c.Port > 65535 {
		return confErrorf("%q: must be 1-65535, got %d", "port", c.Port)
	}
	if c.MetricsPort < 0 || c.MetricsPort > 65535 {
		return confErrorf("%q: must be 0-65535 (0 = no metrics server), got %d", "metricsPort", c.MetricsPort)
	}
	if c.MetricsPort == c.Port {
		return confErrorf("%q: must differ from port (the gRPC control port), both are %d", "metricsPort", c.Port)
	}
	if c.MaxBufTuples < 0 {
		return confErrorf("%q: must be >= 0, got %d", "maxBufTuples", c.MaxBufTuples)
	}
	if b.killAfterIdleMs < 0 || b.killAfterIdleMs > maxDurationMs {
		return confErrorf("%q: must be 0 (never) to %d milliseconds, got %d", "killAfterIdleMs", maxDurationMs, b.killAfterIdleMs)
	}

	if b.runtime != 0 && b.runtime != int32(pb.FunctionDetails_GO) {
		return confErrorf("%q: must be 3 (GO) for this Go binary, got %d (%s)", b.runtimeKey, b.runtime, pb.FunctionDetails_Runtime(b.runtime))
	}

	switch pb.ProcessingGuarantees(b.guarantees) {
	case pb.ProcessingGuarantees_ATLEAST_ONCE, pb.ProcessingGuarantees_ATMOST_ONCE, pb.ProcessingGuarantees_MANUAL:
	case pb.ProcessingGuarantees_EFFECTIVELY_ONCE:
		return confErrorf("%q: EFFECTIVELY_ONCE is not supported by Go instances (Kinesis has no transactions); use ATLEAST_ONCE", b.guaranteesKey)
	default:
		return confErrorf("%q: must be 0 (ATLEAST_ONCE), 1 (ATMOST_ONCE) or 3 (MANUAL), got %d", b.guaranteesKey, b.guarantees)
	}
	if !c.AutoAck && c.ProcessingGuarantees != Manual {
		// The official Go instance panics here too (PIP apache/pulsar#15560):
		// with autoAck off nothing would ack under these guarantees.
		return confErrorf("%q: false is not supported with processingGuarantees %s; use processingGuarantees MANUAL or autoAck=true",
			"autoAck", pb.ProcessingGuarantees(b.guarantees))
	}
	if b.parallelism < 0 {
		return confErrorf("%q: must be >= 1 (0 means 1), got %d", b.parallelismKey, b.parallelism)
	}

	if err := checkAuth(c.AuthPlugin, c.AuthParams); err != nil {
		return err
	}
	if c.SinkTopic != "" {
		return confErrorf("%q: this function has an output topic (%q) but this binary is a sink and writes only to Kinesis; deploy with no output topic",
			b.sinkTopicKey, c.SinkTopic)
	}
	if len(c.Inputs) == 0 {
		return confErrorf("%q: no input topic: give sourceInputSpecs, sourceSpecsTopic or functionDetails.source.inputSpecs", "sourceInputSpecs")
	}

	if b.subType < 0 || b.subType > int32(KeyShared) {
		return confErrorf("%q: must be 0 (SHARED), 1 (FAILOVER) or 2 (KEY_SHARED), got %d", b.subTypeKey, b.subType)
	}
	switch {
	case c.RetainOrdering && c.RetainKeyOrdering:
		return confErrorf("%q: retainOrdering and retainKeyOrdering are both true; set at most one", "functionDetails.retainKeyOrdering")
	case c.RetainOrdering && c.SubscriptionType != Failover:
		return confErrorf("%q: retainOrdering needs a FAILOVER subscription, got %s", b.subTypeKey, pb.SubscriptionType(b.subType))
	case c.RetainKeyOrdering && c.SubscriptionType != KeyShared:
		return confErrorf("%q: retainKeyOrdering needs a KEY_SHARED subscription, got %s", b.subTypeKey, pb.SubscriptionType(b.subType))
	}
	if b.subPos < 0 || b.subPos > int32(Earliest) {
		return confErrorf("%q: must be 0 (LATEST) or 1 (EARLIEST), got %d", b.subPosKey, b.subPos)
	}
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

func checkServiceURL(s string) error {
	if s == "" {
		return confErrorf("%q: is required (the broker URL, e.g. pulsar://broker:6650), got none", "pulsarServiceURL")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return confErrorf("%q: must be a pulsar://, pulsar+ssl://, http:// or https:// URL with a host, got %q", "pulsarServiceURL", s)
	}
	switch u.Scheme {
	case "pulsar", "pulsar+ssl", "http", "https":
		return nil
	}
	return confErrorf("%q: must use scheme pulsar, pulsar+ssl, http or https, got %q", "pulsarServiceURL", s)
}

// checkAuth refuses the one real contradiction in the auth keys: half a
// configuration. The worker writes the pair only when both are non-blank,
// so a lone half comes from a hand-edited conf and would otherwise connect
// unauthenticated (or fail later with a less clear broker error). The
// parameters are never echoed: they hold tokens and key paths.
// tlsAllowInsecureConnection with tlsHostnameVerificationEnable is allowed:
// verification of the host name of an untrusted certificate is pointless but
// harmless, and the worker writes both booleans unconditionally.
func checkAuth(plugin, params string) error {
	hasParams := strings.TrimSpace(params) != ""
	switch {
	case plugin == "" && hasParams:
		return confErrorf("%q: is empty but clientAuthenticationParameters is set; set both or neither", "clientAuthenticationPlugin")
	case plugin != "" && !hasParams && !strings.HasSuffix(plugin, "AuthenticationDisabled"):
		return confErrorf("%q: is empty but clientAuthenticationPlugin %q needs parameters; set both or neither", "clientAuthenticationParameters", plugin)
	}
	return nil
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
