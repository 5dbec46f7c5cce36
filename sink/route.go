package sink

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
	"github.com/pulsar-kinesis/kinesis-sink/runtime"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// KeyMode says where a record's partition key comes from.
type KeyMode string

const (
	// KeyDefault is the Java sink's rule: the message key, else the topic
	// name, else "default".
	KeyDefault KeyMode = "default"
	// KeyProperty takes the key from a message property, falling back to
	// the default rule when the property is absent.
	KeyProperty KeyMode = "property"
	// KeyField takes the key from a field of the JSON value (dotted path),
	// falling back to the default rule when the field is absent.
	KeyField KeyMode = "field"
	// KeyRandom spreads records evenly over shards (no per-key order).
	KeyRandom KeyMode = "random"
	// KeyFixed sends every record with one configured key (Flink's default
	// partition): one shard, total order.
	KeyFixed KeyMode = "fixed"
)

// RouteOptions configure a Router.
type RouteOptions struct {
	KeyMode KeyMode
	// KeyProperty is the property name for KeyProperty.
	KeyProperty string
	// KeyField is the dotted JSON path for KeyField.
	KeyField string
	// FixedKey is the key for KeyFixed, and the fallback key of KeyProperty
	// and KeyField for records lacking the property or field.
	FixedKey string
	// HashKeyProperty names a property holding a decimal explicit hash key;
	// "" means none.
	HashKeyProperty string
	// StreamProperty names a property holding the target stream; "" means
	// none.
	StreamProperty string
	// TopicStreams maps input topics to streams. Keys may be short
	// ("my-topic"), namespaced ("public/default/my-topic") or full
	// ("persistent://public/default/my-topic") names; partitions of a
	// partitioned topic follow their parent.
	TopicStreams map[string]string
	// DefaultStream is used when nothing else names a stream
	// (awsKinesisStreamName, Flink's default stream).
	DefaultStream string
	// Region is awsRegion: a stream ARN from StreamProperty must be of it.
	Region string
}

// Route is where one record goes.
type Route struct {
	Stream          string
	PartitionKey    string
	ExplicitHashKey string
}

// Router decides stream, partition key and explicit hash key per record.
type Router struct {
	o            RouteOptions
	topicStreams map[string]string // normalised to full topic names
	fieldPath    []string
}

// NewRouter validates the options and builds a Router.
func NewRouter(o RouteOptions) (*Router, error) {
	if o.KeyMode == "" {
		o.KeyMode = KeyDefault
	}
	r := &Router{o: o, topicStreams: map[string]string{}}
	switch o.KeyMode {
	case KeyDefault, KeyRandom:
	case KeyProperty:
		if o.KeyProperty == "" {
			return nil, fmt.Errorf("partition key mode %q needs a property name", o.KeyMode)
		}
	case KeyField:
		if o.KeyField == "" {
			return nil, fmt.Errorf("partition key mode %q needs a field path", o.KeyMode)
		}
		r.fieldPath = strings.Split(o.KeyField, ".")
	case KeyFixed:
		if !kinesisrules.ValidPartitionKey(o.FixedKey) {
			return nil, fmt.Errorf("partition key mode %q needs a key of 1-256 characters", o.KeyMode)
		}
	default:
		return nil, fmt.Errorf("unknown partition key mode %q", o.KeyMode)
	}
	for t, s := range o.TopicStreams {
		full, err := conf.NormalizeTopic(t)
		if err != nil {
			return nil, fmt.Errorf("topic-to-stream map: %w", err)
		}
		r.topicStreams[full] = s
	}
	return r, nil
}

// partitionOf returns the partitioned topic that t is a partition of:
// Pulsar names partition N of topic T "T-partition-N", N decimal digits.
// Any other name is a topic of its own.
func partitionOf(t string) (string, bool) {
	i := strings.LastIndex(t, "-partition-")
	if i <= 0 {
		return "", false
	}
	n := t[i+len("-partition-"):]
	if n == "" {
		return "", false
	}
	for j := 0; j < len(n); j++ {
		if n[j] < '0' || n[j] > '9' {
			return "", false
		}
	}
	return t[:i], true
}

// Route computes the destination of r. An error means the record cannot be
// routed (e.g. a malformed explicit hash key); it names what was wrong.
func (rt *Router) Route(r *runtime.RecordData) (Route, error) {
	var out Route
	out.Stream = rt.stream(r)
	if out.Stream == "" {
		return out, fmt.Errorf("no target stream: property %q absent, topic %s not in the topic-to-stream map, and no default stream", rt.o.StreamProperty, r.Topic)
	}
	if kinesisrules.IsStreamARN(out.Stream) {
		// The configured streams were checked when the config loaded; a
		// property's is checked here, once per record.
		arn, ok := kinesisrules.ParseStreamARN(out.Stream)
		if !ok {
			return out, fmt.Errorf("stream %q is not a valid stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)", errtext.Truncate(out.Stream, 200))
		}
		if msg := arn.RegionProblem(rt.o.Region); msg != "" {
			return out, fmt.Errorf("stream %s %s", out.Stream, msg)
		}
	}
	out.PartitionKey = rt.partitionKey(r)
	if rt.o.HashKeyProperty != "" {
		if h, ok := r.Properties[rt.o.HashKeyProperty]; ok {
			if !kinesisrules.ValidExplicitHashKey(h) {
				return out, fmt.Errorf("property %q: explicit hash key must be a decimal integer 0 to 2^128-1, got %q", rt.o.HashKeyProperty, errtext.Truncate(h, 64))
			}
			out.ExplicitHashKey = h
		}
	}
	return out, nil
}

func (rt *Router) stream(r *runtime.RecordData) string {
	if rt.o.StreamProperty != "" {
		if s := r.Properties[rt.o.StreamProperty]; s != "" {
			return s
		}
	}
	if len(rt.topicStreams) > 0 {
		// The topic's own entry wins; a partition without one follows its
		// partitioned topic.
		if s, ok := rt.topicStreams[r.Topic]; ok {
			return s
		}
		if parent, ok := partitionOf(r.Topic); ok {
			if s, ok := rt.topicStreams[parent]; ok {
				return s
			}
		}
	}
	return rt.o.DefaultStream
}

func (rt *Router) partitionKey(r *runtime.RecordData) string {
	switch rt.o.KeyMode {
	case KeyFixed:
		return rt.o.FixedKey
	case KeyRandom:
		return randomKey()
	case KeyProperty:
		if v := r.Properties[rt.o.KeyProperty]; v != "" {
			return kinesisrules.CutPartitionKey(v)
		}
	case KeyField:
		if v, ok := jsonField(r.Payload, rt.fieldPath); ok && v != "" {
			return kinesisrules.CutPartitionKey(v)
		}
	}
	// A record lacking the property or field takes the configured fallback
	// key (defaultPartitionKey), else the Java rule.
	if rt.o.FixedKey != "" {
		return rt.o.FixedKey
	}
	return DefaultPartitionKey(r)
}

// DefaultPartitionKey is the Java sink's rule: the message key, else the
// topic name, else "default". Keys longer than Kinesis allows are cut to
// 256 characters on a character boundary (the Java sink cuts to 255 UTF-16
// units, an off-by-one we do not copy).
func DefaultPartitionKey(r *runtime.RecordData) string {
	switch {
	case r.HasKey && r.Key != "":
		return kinesisrules.CutPartitionKey(r.Key)
	case r.Topic != "":
		return kinesisrules.CutPartitionKey(r.Topic)
	default:
		return "default"
	}
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// jsonField reads a dotted path from a JSON object payload and renders the
// value as a key: strings as they are, other scalars as their JSON text.
func jsonField(payload []byte, path []string) (string, bool) {
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return "", false
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[p]; !ok {
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case nil, map[string]any, []any:
		return "", false
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}
