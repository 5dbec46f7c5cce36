package runtime

// Reading the instance config: its sources (-instance-conf JSON over the
// -instance-conf-path YAML), each key decoded leniently into rawConf, and
// FunctionDetails parsed from its protobuf JSON.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"

	"github.com/pulsar-kinesis/kinesis-sink/internal/lenient"

	"github.com/pulsar-kinesis/kinesis-sink/internal/yamlvalue"
)

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
// as long as the original values held no backslash. docs/deployment.md tells
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
