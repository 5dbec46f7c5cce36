package awscfg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pulsar-kinesis/kinesis-sink/conf"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

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

func paramError(format string, args ...any) error {
	return &conf.Error{Key: paramKey, Msg: fmt.Sprintf(format, args...)}
}

// fields is a decoded param object. Values stay raw so that each field's
// type is checked by name, and nothing is echoed back.
type fields map[string]json.RawMessage

// parseParam decodes the param as a JSON object; want says what is expected.
// The error never quotes the param (nor the position of a syntax error,
// which hints at the secret's length).
func parseParam(param, want string) (fields, error) {
	if strings.TrimSpace(param) == "" {
		return nil, paramError("%s; got an empty value", want)
	}
	var m fields
	if err := json.Unmarshal([]byte(param), &m); err != nil || m == nil {
		return nil, paramError("%s; got a value that is not a JSON object", want)
	}
	return m, nil
}

// str returns a string field; absent and null are "". Any other JSON type is
// an error naming the field only.
func (f fields) str(name string) (string, error) {
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

// warnUnknown logs the names (not the values) of fields the plugin ignores,
// so a misspelt "externalID" does not go unnoticed.
func (f fields) warnUnknown(env Env, plugin string, known ...string) {
	var extra []string
	for k := range f {
		if !slices.Contains(known, k) {
			extra = append(extra, strconv.Quote(k))
		}
	}
	if len(extra) > 0 && env.Logger != nil {
		slices.Sort(extra)
		env.Logger.Warn("awsCredentialPluginParam: ignoring unknown fields", "plugin", plugin, "fields", strings.Join(extra, ", "), "known", strings.Join(known, ", "))
	}
}

// staticKeys reads accessKey/secretKey/sessionToken. required says whether
// the keys must be there; when they are optional, giving only one of the two
// is still an error.
func (f fields) staticKeys(want string, required bool) (aws.CredentialsProvider, error) {
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
	return credentials.NewStaticCredentialsProvider(ak, sk, tok), nil
}

const staticWant = `must be JSON {"accessKey":"…","secretKey":"…"} (optionally with "sessionToken") when awsCredentialPluginName is empty`

func staticProvider(_ context.Context, param string, env Env) (aws.CredentialsProvider, error) {
	f, err := parseParam(param, staticWant)
	if err != nil {
		return nil, err
	}
	f.warnUnknown(env, "static keys", "accessKey", "secretKey", "sessionToken")
	return f.staticKeys(staticWant, true)
}

func defaultChainProvider(ctx context.Context, param string, env Env) (aws.CredentialsProvider, error) {
	// The Java plugin ignores its param entirely, so anything that is not a
	// JSON object is ignored too: configs written for it load unchanged.
	var profile string
	var f fields
	if json.Unmarshal([]byte(param), &f) == nil && f != nil {
		p, err := f.str("profile")
		if err != nil {
			return nil, err
		}
		profile = strings.TrimSpace(p)
		f.warnUnknown(env, "default chain", "profile")
	}
	return loadDefaultChain(ctx, profile, env)
}

// loadDefaultChain returns the SDK's default chain. config.LoadDefaultConfig
// wraps it in an aws.CredentialsCache; the renewer invalidates that cache
// when it renews, so the chain is asked again.
func loadDefaultChain(ctx context.Context, profile string, env Env) (aws.CredentialsProvider, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(env.Region),
	}
	if env.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(env.HTTPClient))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("awscfg: default credential chain: %s", errtext.OneLine(err.Error()))
	}
	return cfg.Credentials, nil
}

const assumeRoleWant = `must be JSON {"roleArn":"…","roleSessionName":"…"} for the STS assume-role plugin`

// assumeRoleParams is the parsed param of the assume-role plugin.
type assumeRoleParams struct {
	roleARN, sessionName string
	externalID, policy   *string
	duration             time.Duration
	base                 aws.CredentialsProvider // nil: default chain
	profile              string
}

func parseAssumeRole(param string, env Env) (*assumeRoleParams, error) {
	f, err := parseParam(param, assumeRoleWant)
	if err != nil {
		return nil, err
	}
	f.warnUnknown(env, "assume role", "roleArn", "roleSessionName", "externalId", "durationSeconds", "policy", "accessKey", "secretKey", "sessionToken", "profile")
	p := &assumeRoleParams{duration: DefaultAssumeRoleDuration}
	if p.roleARN, err = f.str("roleArn"); err != nil {
		return nil, err
	}
	if p.sessionName, err = f.str("roleSessionName"); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(p.roleARN) == "":
		return nil, paramError("%s; \"roleArn\" is missing or blank", assumeRoleWant)
	case !strings.HasPrefix(p.roleARN, "arn:"):
		return nil, paramError("%s; \"roleArn\" is not an ARN (arn:…)", assumeRoleWant)
	case strings.TrimSpace(p.sessionName) == "":
		return nil, paramError("%s; \"roleSessionName\" is missing or blank", assumeRoleWant)
	case !sessionNameRE.MatchString(p.sessionName):
		return nil, paramError("\"roleSessionName\" must be 2-64 characters of letters, digits and +=,.@_-, got %q", p.sessionName)
	}
	ext, err := f.str("externalId")
	if err != nil {
		return nil, err
	}
	if ext != "" {
		// The external id is a shared secret between accounts in some
		// setups, so it is never quoted.
		if len(ext) < 2 || len(ext) > 1224 || !externalIDRE.MatchString(ext) {
			return nil, paramError("\"externalId\" must be 2-1224 characters of letters, digits and +=,.@:/_-")
		}
		p.externalID = &ext
	}
	if p.duration, err = f.durationSeconds(); err != nil {
		return nil, err
	}
	if p.policy, err = f.policy(); err != nil {
		return nil, err
	}
	if p.base, err = f.staticKeys(assumeRoleWant, false); err != nil {
		return nil, err
	}
	if p.profile, err = f.str("profile"); err != nil {
		return nil, err
	}
	return p, nil
}

// durationSeconds accepts a JSON integer or a string holding one, as
// Pulsar configs often stringify numbers.
func (f fields) durationSeconds() (time.Duration, error) {
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
func (f fields) policy() (*string, error) {
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

func assumeRoleProvider(ctx context.Context, param string, env Env) (aws.CredentialsProvider, error) {
	p, err := parseAssumeRole(param, env)
	if err != nil {
		return nil, err
	}
	base := p.base
	if base == nil {
		if base, err = loadDefaultChain(ctx, strings.TrimSpace(p.profile), env); err != nil {
			return nil, err
		}
	}
	stsCfg := aws.Config{Region: env.Region, Credentials: base, Retryer: finalCertErrorsRetryer}
	if env.HTTPClient != nil {
		stsCfg.HTTPClient = env.HTTPClient
	}
	client := sts.NewFromConfig(stsCfg, func(o *sts.Options) {
		if env.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(env.STSEndpoint)
		}
	})
	return stscreds.NewAssumeRoleProvider(client, p.roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = p.sessionName
		o.ExternalID = p.externalID
		o.Duration = p.duration
		o.Policy = p.policy
	}), nil
}
