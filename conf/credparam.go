package conf

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// The parameters of the built-in credential plugins (awsCredentialPluginParam)
// are parsed and checked here, once: Config.Credentials uses these parsers
// when the config loads, and package sink/awscfg builds its providers from
// their results. Errors name the field, never a value that may be secret
// (nor the position of a JSON syntax error, which hints at its length).

const paramKey = "awsCredentialPluginParam"

// STS limits of AssumeRole (API reference): durationSeconds range, session
// name and external id patterns. Checked here so that a typo fails at open
// with the field named, not as an STS error on every refresh.
const (
	MinAssumeRoleDuration = 900 * time.Second
	MaxAssumeRoleDuration = 43200 * time.Second
	// DefaultAssumeRoleDuration is STS's own default, which the Java plugin
	// gets (it sends no duration); every role allows it (a role's maximum
	// session is at least 1 hour). The Go SDK alone would ask for 15 min.
	DefaultAssumeRoleDuration = time.Hour
)

var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

const (
	staticWant     = `must be JSON {"accessKey":"…","secretKey":"…"} (optionally with "sessionToken") when awsCredentialPluginName is empty (set it, or a function secret of the same name)`
	assumeRoleWant = `must be JSON {"roleArn":"…","roleSessionName":"…"} for the STS assume-role plugin`
)

// StaticKeyParam are static AWS keys.
type StaticKeyParam struct {
	AccessKey, SecretKey, SessionToken Secret
}

// AssumeRoleParam is the parsed param of the STS assume-role plugin.
type AssumeRoleParam struct {
	RoleARN, SessionName string
	ExternalID, Policy   *string // nil: not sent
	Duration             time.Duration
	// Base are the keys that assume the role; nil means the default chain,
	// with Profile if set.
	Base    *StaticKeyParam
	Profile string
}

func paramError(format string, args ...any) error { return errorf(paramKey, format, args...) }

// paramFields is a decoded param object. Values stay raw so that each
// field's type is checked by name, and nothing is echoed back.
type paramFields map[string]json.RawMessage

func parseParamObject(param, want string) (paramFields, error) {
	if strings.TrimSpace(param) == "" {
		return nil, paramError("%s; got an empty value", want)
	}
	var m paramFields
	if err := json.Unmarshal([]byte(param), &m); err != nil || m == nil {
		return nil, paramError("%s; got a value that is not a JSON object", want)
	}
	return m, nil
}

// str returns a string field; absent and null are "". Any other JSON type is
// an error naming the field only.
func (f paramFields) str(name string) (string, error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", paramError("%q must be a JSON string", name)
	}
	return s, nil
}

// unknown lists the names of fields the plugin ignores, so that a caller can
// warn about a misspelt "externalID".
func (f paramFields) unknown(known ...string) []string {
	var extra []string
	for k := range f {
		if !slices.Contains(known, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return extra
}

// staticKeys reads accessKey/secretKey/sessionToken. required says whether
// the keys must be there; when they are optional, giving only one of the two
// is still an error.
func (f paramFields) staticKeys(want string, required bool) (*StaticKeyParam, error) {
	ak, err := f.str("accessKey")
	if err != nil {
		return nil, err
	}
	sk, err := f.str("secretKey")
	if err != nil {
		return nil, err
	}
	tok, err := f.str("sessionToken")
	if err != nil {
		return nil, err
	}
	blankAK, blankSK := strings.TrimSpace(ak) == "", strings.TrimSpace(sk) == ""
	if !required && blankAK && blankSK {
		if strings.TrimSpace(tok) != "" {
			return nil, paramError("%s; \"sessionToken\" needs \"accessKey\" and \"secretKey\"", want)
		}
		return nil, nil
	}
	switch {
	case blankAK:
		return nil, paramError("%s; \"accessKey\" is missing or blank", want)
	case blankSK:
		return nil, paramError("%s; \"secretKey\" is missing or blank", want)
	}
	return &StaticKeyParam{AccessKey: Secret(ak), SecretKey: Secret(sk), SessionToken: Secret(tok)}, nil
}

// ParseStaticParam parses the param of static keys (no plugin name). It
// also returns the names of fields it ignored.
func ParseStaticParam(param string) (*StaticKeyParam, []string, error) {
	f, err := parseParamObject(param, staticWant)
	if err != nil {
		return nil, nil, err
	}
	k, err := f.staticKeys(staticWant, true)
	return k, f.unknown("accessKey", "secretKey", "sessionToken"), err
}

// ParseDefaultChainParam parses the optional param of the default-chain
// plugin: {"profile": "…"}. The Java plugin ignores its param entirely, so
// anything that is not a JSON object is ignored too, and configs written
// for it load unchanged.
func ParseDefaultChainParam(param string) (profile string, unknown []string, err error) {
	var f paramFields
	if json.Unmarshal([]byte(param), &f) != nil || f == nil {
		return "", nil, nil
	}
	p, err := f.str("profile")
	return strings.TrimSpace(p), f.unknown("profile"), err
}

// ParseAssumeRoleParam parses the param of the STS assume-role plugin.
func ParseAssumeRoleParam(param string) (*AssumeRoleParam, []string, error) {
	f, err := parseParamObject(param, assumeRoleWant)
	if err != nil {
		return nil, nil, err
	}
	unknown := f.unknown("roleArn", "roleSessionName", "externalId", "durationSeconds", "policy", "accessKey", "secretKey", "sessionToken", "profile")
	p := &AssumeRoleParam{}
	if p.RoleARN, err = f.str("roleArn"); err != nil {
		return nil, nil, err
	}
	if p.SessionName, err = f.str("roleSessionName"); err != nil {
		return nil, nil, err
	}
	switch {
	case strings.TrimSpace(p.RoleARN) == "":
		return nil, nil, paramError("%s; \"roleArn\" is missing or blank", assumeRoleWant)
	case !strings.HasPrefix(p.RoleARN, "arn:"):
		return nil, nil, paramError("%s; \"roleArn\" is not an ARN (arn:…)", assumeRoleWant)
	case strings.TrimSpace(p.SessionName) == "":
		return nil, nil, paramError("%s; \"roleSessionName\" is missing or blank", assumeRoleWant)
	case !sessionNameRE.MatchString(p.SessionName):
		return nil, nil, paramError("\"roleSessionName\" must be 2-64 characters of letters, digits and +=,.@_-, got %q", p.SessionName)
	}
	ext, err := f.str("externalId")
	if err != nil {
		return nil, nil, err
	}
	if ext != "" {
		// The external id is a shared secret between accounts in some
		// setups, so it is never quoted.
		if len(ext) < 2 || len(ext) > 1224 || !externalIDRE.MatchString(ext) {
			return nil, nil, paramError("\"externalId\" must be 2-1224 characters of letters, digits and +=,.@:/_-")
		}
		p.ExternalID = &ext
	}
	if p.Duration, err = f.durationSeconds(); err != nil {
		return nil, nil, err
	}
	if p.Policy, err = f.policy(); err != nil {
		return nil, nil, err
	}
	if p.Base, err = f.staticKeys(assumeRoleWant, false); err != nil {
		return nil, nil, err
	}
	if p.Profile, err = f.str("profile"); err != nil {
		return nil, nil, err
	}
	p.Profile = strings.TrimSpace(p.Profile)
	return p, unknown, nil
}

// durationSeconds accepts a JSON integer or a string holding one, as
// Pulsar configs often stringify numbers.
func (f paramFields) durationSeconds() (time.Duration, error) {
	raw, ok := f["durationSeconds"]
	if !ok || string(raw) == "null" {
		return DefaultAssumeRoleDuration, nil
	}
	text := string(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	minS, maxS := int64(MinAssumeRoleDuration/time.Second), int64(MaxAssumeRoleDuration/time.Second)
	if err != nil || n < minS || n > maxS {
		return 0, paramError("\"durationSeconds\" must be an integer from %d to %d, got %s", minS, maxS, strconv.Quote(errtext.Truncate(text, 40)))
	}
	return time.Duration(n) * time.Second, nil
}

// policy accepts the session policy as a JSON string or as the JSON object
// itself (easier to write in YAML).
func (f paramFields) policy() (*string, error) {
	raw, ok := f["policy"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return &s, nil
	}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '{' {
		var buf bytes.Buffer
		if err := json.Compact(&buf, trimmed); err == nil {
			s = buf.String()
			return &s, nil
		}
	}
	return nil, paramError("\"policy\" must be a JSON policy document, as an object or a string")
}
