package conf

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"

	"github.com/pulsar-kinesis/kinesis-sink/internal/lenient"
)

// Error is a configuration error. Its message is one line naming the key,
// the value (never a secret's) and what is allowed.
type Error struct {
	// Key is the key as the user wrote it ("collectionMaxCount",
	// "extraKinesisProducerConfig.RecordTtl"); empty for rules that span
	// keys.
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "sink config: " + e.Msg
	}
	return fmt.Sprintf("sink config: %s: %s", quote(e.Key), e.Msg)
}

func errorf(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func warnf(format string, args ...any) string {
	return "sink config: " + fmt.Sprintf(format, args...)
}

// FromMap loads the sink configuration from the function's userConfig map,
// then validates it. It returns the warnings the caller should log (unknown
// keys, ignored settings), also when it fails.
//
// Loading rules:
//   - Pulsar hands values over as given by the user, so numbers and booleans
//     may be strings: "100", " 100 " (surrounding spaces are trimmed), "true",
//     "FALSE". JSON numbers arrive as float64; a non-integer for an integer
//     key is an error.
//   - A null value leaves the key at its default.
//   - Enumerated values match without regard to case and are stored in their
//     canonical spelling.
//   - extraKinesisProducerConfig and topicToStreamMap may be maps or JSON
//     objects in strings; awsCredentialPluginParam may be a JSON string or a
//     map (encoded back to JSON).
//   - Secrets follow Pulsar's IOConfigUtils.loadWithSecrets: for each
//     sensitive key (awsCredentialPluginParam), a secret of the same name,
//     when secret reports one, replaces the config value. secret may be nil.
//   - Unknown keys are warnings, with a suggestion for near misses.
//   - extraKinesisProducerConfig entries apply to the matching keys unless
//     those are given at the top level (strings and ports: non-empty).
func FromMap(m map[string]any, secret func(string) (string, bool)) (*Config, []string, error) {
	c := Default()
	var warns []string
	present := map[string]bool{}
	for _, k := range sortedKeys(m) {
		sp, ok := specByName[k]
		if !ok {
			warns = append(warns, unknownKeyWarning(k))
			continue
		}
		v := m[k]
		if v == nil {
			continue
		}
		if err := c.set(sp, k, v); err != nil {
			return nil, warns, err
		}
		present[k] = true
	}
	if secret != nil {
		for i := range specs {
			if specs[i].kind != kSecret {
				continue
			}
			if v, ok := secret(specs[i].name); ok {
				c.field(specs[i].name).SetString(v)
				present[specs[i].name] = true
			}
		}
	}
	w, err := c.applyExtra(present)
	warns = append(warns, w...)
	if err != nil {
		return nil, warns, err
	}
	if err := c.normalizeTopicMap(); err != nil {
		return nil, warns, err
	}
	warns = append(warns, c.consistencyWarnings(present)...)
	if err := c.Validate(); err != nil {
		return nil, warns, err
	}
	return c, warns, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// set parses v into the field of sp; label names the key in errors.
func (c *Config) set(sp *spec, label string, v any) error {
	f := c.field(sp.name)
	switch sp.kind {
	case kString:
		s, ok := toString(v)
		if !ok {
			return errorf(label, "must be a string, got %s", show(v))
		}
		f.SetString(s)
	case kSecret:
		s, ok := secretString(v)
		if !ok {
			// The value is the secret (or part of it): only its type is shown.
			return errorf(label, "must be a string holding JSON, got %s", typeName(v))
		}
		f.SetString(s)
	case kBool:
		b, ok := lenient.Bool(v)
		if !ok {
			return errorf(label, "must be true or false, got %s", show(v))
		}
		f.SetBool(b)
	case kInt:
		n, err := lenient.Int(v, 64)
		ok := err == nil
		if !ok || n < sp.min || n > sp.max {
			return errorf(label, "%s, got %s", rangeText(sp), show(v))
		}
		f.SetInt(n)
	case kPort:
		if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
			f.Set(reflect.Zero(f.Type()))
			return nil
		}
		n, err := lenient.Int(v, 64)
		ok := err == nil
		if !ok || n < sp.min || n > sp.max {
			return errorf(label, "%s, got %s", rangeText(sp), show(v))
		}
		p := int(n)
		f.Set(reflect.ValueOf(&p))
	case kEnum:
		s, ok := toString(v)
		canon, found := "", false
		if ok {
			canon, found = matchEnum(sp, s)
		}
		if !found {
			return errorf(label, "must be one of %s, got %s", strings.Join(sp.enum, ", "), show(v))
		}
		f.SetString(canon)
	case kMap:
		mm, err := toStringMap(label, v)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(mm))
	}
	return nil
}

func rangeText(sp *spec) string {
	s := fmt.Sprintf("must be an integer %d-%d", sp.min, sp.max)
	if sp.unit != "" {
		s += " (" + sp.unit + ")"
	}
	return s
}

func matchEnum(sp *spec, s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, e := range sp.enum {
		if strings.EqualFold(e, s) {
			return e, true
		}
	}
	return "", false
}

// toString accepts strings and, as Jackson does for String fields, scalars
// written without quotes (a stream named 2024 in YAML).
func toString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		return formatFloat(x), true
	case float32:
		return formatFloat(float64(x)), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	}
	return "", false
}

// secretString accepts a string, or a map that is encoded back to JSON (the
// natural way to write the parameter in YAML).
func secretString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any, map[any]any, map[string]string:
		m, ok := plainMap(x)
		if !ok {
			return "", false
		}
		b, err := json.Marshal(m)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	return "", false
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// plainMap turns the map types JSON and YAML decoders produce into
// map[string]any.
func plainMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return m, true
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := toString(k)
			if !ok {
				return nil, false
			}
			m[ks] = e
		}
		return m, true
	}
	return nil, false
}

// toStringMap reads a map of scalars, given as a map or a JSON object in a
// string (as --sink-config users sometimes write nested maps).
func toStringMap(label string, v any) (map[string]string, error) {
	orig := v
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return map[string]string{}, nil
		}
		var decoded any
		if err := json.Unmarshal([]byte(s), &decoded); err != nil {
			return nil, errorf(label, "must be a map of strings or a JSON object in a string, got %s", show(v))
		}
		v = decoded
	}
	m, ok := plainMap(v)
	if !ok {
		return nil, errorf(label, "must be a map of strings or a JSON object in a string, got %s", show(orig))
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		if m[k] == nil {
			continue
		}
		s, ok := toString(m[k])
		if !ok {
			return nil, errorf(label+"."+k, "must be a string, got %s", show(m[k]))
		}
		out[k] = s
	}
	return out, nil
}

// show renders a user value for an error message: bounded, one line.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(x)
	case bool, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		s, _ := toString(x)
		return s
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	}
	if m, ok := plainMap(v); ok {
		v = m
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "a value of type " + typeName(v)
	}
	return errtext.Truncate(string(b), 64)
}

const maxShown = 64

// quote is strconv.Quote of at most maxShown characters: newlines are
// escaped, so a message stays on one line.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxShown {
		r := []rune(s)
		return strconv.Quote(string(r[:maxShown])) + "…"
	}
	return strconv.Quote(s)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float32, float64, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "a number"
	case []any:
		return "a list"
	}
	if _, ok := plainMap(v); ok {
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// kplKey is a KPL KinesisProducerConfiguration setting as it may appear in
// extraKinesisProducerConfig.
type kplKey struct {
	name   string // KPL's own (PascalCase) spelling
	target string // the key it sets here; "" when it has no meaning here
	invert bool   // VerifyCertificate is the negation of skipCertificateValidation
	why    string // why a setting without a target is ignored
}

const (
	whyDaemon = "it configures the KPL native daemon, which this sink does not have"
)

var kplKeys = []kplKey{
	{name: "AggregationEnabled", target: "aggregationEnabled"},
	{name: "AggregationMaxCount", target: "aggregationMaxCount"},
	{name: "AggregationMaxSize", target: "aggregationMaxSize"},
	{name: "CloudwatchEndpoint", target: "cloudwatchEndpoint"},
	{name: "CloudwatchPort", target: "cloudwatchPort"},
	{name: "CollectionMaxCount", target: "collectionMaxCount"},
	{name: "CollectionMaxSize", target: "collectionMaxSize"},
	{name: "ConnectTimeout", target: "connectTimeout"},
	{name: "CredentialsRefreshDelay", target: "credentialsRefreshDelay"},
	{name: "FailIfThrottled", target: "failIfThrottled"},
	{name: "KinesisEndpoint", target: "awsEndpoint"},
	{name: "KinesisPort", target: "awsEndpointPort"},
	{name: "MaxConnections", target: "maxConnections"},
	{name: "MetricsGranularity", target: "metricsGranularity"},
	{name: "MetricsLevel", target: "metricsLevel"},
	{name: "MetricsNamespace", target: "metricsNamespace"},
	{name: "MetricsUploadDelay", target: "metricsUploadDelayInMillis"},
	{name: "MinConnections", target: "minConnections"},
	{name: "RateLimit", target: "rateLimit"},
	{name: "RecordMaxBufferedTime", target: "recordMaxBufferedTimeInMillis"},
	{name: "RecordTtl", target: "recordTtl"},
	{name: "Region", target: "awsRegion"},
	{name: "RequestTimeout", target: "requestTimeout"},
	{name: "StsEndpoint", target: "awsStsEndpoint"},
	{name: "StsPort", target: "awsStsPort"},
	{name: "VerifyCertificate", target: "skipCertificateValidation", invert: true},

	{name: "NativeExecutable", why: whyDaemon},
	{name: "TempDirectory", why: "the Go engine runs from its own file; the kinesis-go NAR copies kinesis-sink there to run it"},
	{name: "ThreadingModel", why: whyDaemon},
	{name: "ThreadPoolSize", why: whyDaemon},
	{name: "LogLevel", why: whyDaemon},
	{name: "EnableCoreDumps", why: whyDaemon},
	{name: "EnableOldestFutureTracker", why: "it configures the KPL Java wrapper"},
	{name: "UserRecordTimeoutInMillis", why: "recordTtl bounds how long a record is held"},
	{name: "CaCertPath", why: "the system trust store is used; set SSL_CERT_DIR in the environment instead"},
	{name: "CaCertFile", why: "the system trust store is used; set SSL_CERT_FILE in the environment instead"},
	{name: "ProxyHost", why: "set HTTPS_PROXY in the environment instead"},
	{name: "ProxyPort", why: "set HTTPS_PROXY in the environment instead"},
	{name: "ProxyUserName", why: "set HTTPS_PROXY in the environment instead"},
	{name: "ProxyPassword", why: "set HTTPS_PROXY in the environment instead"},
	{name: "GlueSchemaRegistryPropertiesFilePath", why: "the Glue schema registry is not supported"},
	{name: "CredentialsProvider", why: "use awsCredentialPluginName"},
	{name: "MetricsCredentialsProvider", why: "the Kinesis credentials are used for CloudWatch"},
}

var kplByLower = func() map[string]*kplKey {
	m := make(map[string]*kplKey, len(kplKeys))
	for i := range kplKeys {
		m[strings.ToLower(kplKeys[i].name)] = &kplKeys[i]
	}
	return m
}()

// secretLike reports an extraKinesisProducerConfig entry whose value must
// not be kept in the printable Config.
func secretLike(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// given reports whether a key was set at the top level in a way that wins
// over extraKinesisProducerConfig: present, and for strings and ports not
// empty (the Java sink sets the endpoints and region only when non-empty).
func (c *Config) given(present map[string]bool, name string) bool {
	if !present[name] {
		return false
	}
	f := c.field(name)
	switch f.Kind() {
	case reflect.String:
		return f.String() != ""
	case reflect.Pointer:
		return !f.IsNil()
	}
	return true
}

func (c *Config) applyExtra(present map[string]bool) ([]string, error) {
	extra := c.ExtraKinesisProducerConfig
	if len(extra) == 0 {
		return nil, nil
	}
	var warns []string
	seen := map[string]string{}
	kept := make(map[string]string, len(extra))
	for _, k := range sortedKeys(extra) {
		label := "extraKinesisProducerConfig." + k
		lk := strings.ToLower(k)
		if prev, dup := seen[lk]; dup {
			return warns, errorf("extraKinesisProducerConfig", "%s and %s are the same KPL setting; keep one", quote(prev), quote(k))
		}
		seen[lk] = k
		if secretLike(k) {
			kept[k] = string(Secret(extra[k]).mask())
		} else {
			kept[k] = extra[k]
		}
		kk, ok := kplByLower[lk]
		switch {
		case !ok:
			w := warnf("%s: unknown KPL setting, ignored", quote(label))
			if s := suggest(k, kplNames()); s != "" {
				w += "; did you mean " + quote(s) + "?"
			}
			warns = append(warns, w)
			continue
		case kk.target == "":
			warns = append(warns, warnf("%s ignored: %s", quote(label), kk.why))
			continue
		case c.given(present, kk.target):
			warns = append(warns, warnf("%s ignored: the top-level key %s is set", quote(label), quote(kk.target)))
			continue
		}
		if kk.invert {
			b, ok := lenient.Bool(extra[k])
			if !ok {
				return warns, errorf(label, "must be true or false, got %s", show(extra[k]))
			}
			c.field(kk.target).SetBool(!b)
		} else if err := c.set(specByName[kk.target], label, extra[k]); err != nil {
			return warns, err
		}
		if c.origin == nil {
			c.origin = map[string]string{}
		}
		c.origin[kk.target] = label
	}
	c.ExtraKinesisProducerConfig = kept
	return warns, nil
}

func kplNames() []string {
	names := make([]string, len(kplKeys))
	for i, k := range kplKeys {
		names[i] = k.name
	}
	return names
}

func unknownKeyWarning(k string) string {
	w := warnf("unknown key %s ignored", quote(k))
	if kk, ok := kplByLower[strings.ToLower(k)]; ok && kk.target != "" {
		return w + "; did you mean " + quote(kk.target) + " (or " + quote(kk.name) + " in extraKinesisProducerConfig)?"
	}
	if s := suggest(k, keyNames); s != "" {
		w += "; did you mean " + quote(s) + "?"
	}
	return w
}

// suggest returns the candidate closest to k, or "" if none is close: same
// letters in another case, a few typos away, or k is the tail of a longer
// key ("region" for "awsRegion").
func suggest(k string, candidates []string) string {
	lk := strings.ToLower(k)
	for _, c := range candidates {
		if strings.ToLower(c) == lk {
			return c
		}
	}
	best, bestDist := "", -1
	limit := 2
	if n := utf8.RuneCountInString(k); n >= 12 {
		limit = 3
	}
	for _, c := range candidates {
		d := levenshtein(lk, strings.ToLower(c))
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return best
	}
	if len(lk) >= 5 {
		for _, c := range candidates {
			lc := strings.ToLower(c)
			if (strings.HasSuffix(lc, lk) || strings.HasPrefix(lc, lk)) && (best == "" || len(c) < len(best)) {
				best = c
			}
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 200 || len(rb) > 200 {
		return 1 << 30
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// normalizeTopicMap rewrites topicToStreamMap keys to full topic names, the
// form records carry, so that two spellings of one topic are caught here.
func (c *Config) normalizeTopicMap() error {
	if len(c.TopicToStreamMap) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.TopicToStreamMap))
	for _, k := range sortedKeys(c.TopicToStreamMap) {
		full, err := NormalizeTopic(k)
		if err != nil {
			return errorf("topicToStreamMap", "%s is not a topic name (use persistent://tenant/namespace/topic, tenant/namespace/topic or topic)", quote(k))
		}
		if _, dup := out[full]; dup {
			return errorf("topicToStreamMap", "%s names the same topic as another entry (%s)", quote(k), full)
		}
		out[full] = c.TopicToStreamMap[k]
	}
	c.TopicToStreamMap = out
	return nil
}

func (c *Config) consistencyWarnings(present map[string]bool) []string {
	var w []string
	if c.NativeExecutable != "" {
		w = append(w, warnf("%s ignored: this sink has no native KPL executable", quote("nativeExecutable")))
	}
	// Java configs often spell out the defaults; only a changed value
	// suggests the user expects an effect.
	if c.MessageFormat != FullMessageInJSONExpandValue {
		if present["jsonIncludeNonNulls"] && !c.JSONIncludeNonNulls {
			w = append(w, warnf("%s has no effect unless messageFormat is %s", quote("jsonIncludeNonNulls"), FullMessageInJSONExpandValue))
		}
		if present["jsonFlatten"] && c.JSONFlatten {
			w = append(w, warnf("%s has no effect unless messageFormat is %s", quote("jsonFlatten"), FullMessageInJSONExpandValue))
		}
	}
	if c.JSONIncludeMessageID && c.MessageFormat != FullMessageInJSON && c.MessageFormat != FullMessageInJSONExpandValue {
		w = append(w, warnf("%s has no effect with messageFormat %s: only the JSON formats carry it", quote("jsonIncludeMessageId"), c.MessageFormat))
	}
	if c.PartitionKeyProperty != "" && c.PartitionKeyMode != PartitionKeyModeProperty {
		w = append(w, warnf("%s has no effect unless partitionKeyMode is %q", quote("partitionKeyProperty"), PartitionKeyModeProperty))
	}
	if c.PartitionKeyField != "" && c.PartitionKeyMode != PartitionKeyModeField {
		w = append(w, warnf("%s has no effect unless partitionKeyMode is %q", quote("partitionKeyField"), PartitionKeyModeField))
	}
	if c.DefaultPartitionKey != "" && (c.PartitionKeyMode == PartitionKeyModeDefault || c.PartitionKeyMode == PartitionKeyModeRandom) {
		w = append(w, warnf("%s has no effect when partitionKeyMode is %q", quote("defaultPartitionKey"), c.PartitionKeyMode))
	}
	if c.DeadLetterTopic != "" && c.FailurePolicy != FailurePolicyDeadLetter {
		w = append(w, warnf("%s has no effect unless failurePolicy is %q", quote("deadLetterTopic"), FailurePolicyDeadLetter))
	}
	return w
}
