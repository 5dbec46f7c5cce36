package conf

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pulsar-kinesis/kinesis-sink/internal/kinesisrules"
)

// Validate checks every key and the rules between keys. It returns the first
// problem, as an *Error whose message is one line; a secret's value never
// appears in it. FromMap calls it; call it again after changing a Config.
func (c *Config) Validate() error {
	for i := range specs {
		if err := c.checkSpec(&specs[i]); err != nil {
			return err
		}
	}
	// The Java sink's own rule, with its wording.
	if c.AWSRegion == "" && (c.AWSEndpoint == "" || c.CloudwatchEndpoint == "") {
		return &Error{Msg: `Either "awsRegion" must be set OR all of ["awsEndpoint", "cloudwatchEndpoint"] must be set.`}
	}
	if c.AWSRegion != "" && !regionRE.MatchString(c.AWSRegion) {
		return errorf(c.keyName("awsRegion"), "must be an AWS region name such as \"us-east-1\", got %s", quote(c.AWSRegion))
	}
	for _, e := range c.endpoints() {
		if _, err := e.url(c); err != nil {
			return err
		}
	}
	if err := c.checkStreams(); err != nil {
		return err
	}
	if _, err := c.Credentials(); err != nil {
		return err
	}
	if c.RetryMaxDelayInMillis < c.RetryInitialDelayInMillis {
		return errorf(c.keyName("retryMaxDelayInMillis"), "must be at least retryInitialDelayInMillis (%d), got %d", c.RetryInitialDelayInMillis, c.RetryMaxDelayInMillis)
	}
	if c.MinConnections > c.MaxConnections {
		return errorf(c.keyName("minConnections"), "must be at most maxConnections (%d), got %d", c.MaxConnections, c.MinConnections)
	}
	if err := c.checkPartitionKey(); err != nil {
		return err
	}
	if c.FailurePolicy == FailurePolicyDeadLetter && c.DeadLetterTopic == "" {
		return errorf("deadLetterTopic", "must be a topic name when failurePolicy is %q, got \"\"", FailurePolicyDeadLetter)
	}
	if c.DeadLetterTopic != "" {
		if _, err := NormalizeTopic(c.DeadLetterTopic); err != nil {
			return errorf("deadLetterTopic", "must be a topic name (persistent://tenant/namespace/topic, tenant/namespace/topic or topic), got %s", quote(c.DeadLetterTopic))
		}
	}
	if n := c.MetricsNamespace; n == "" || utf8.RuneCountInString(n) > 255 || strings.HasPrefix(n, "AWS/") || !utf8.ValidString(n) {
		return errorf(c.keyName("metricsNamespace"), "must be 1-255 characters, not starting with \"AWS/\", got %s", quote(n))
	}
	for _, k := range []string{"partitionKeyProperty", "explicitHashKeyProperty", "streamNameProperty"} {
		if s := c.field(k).String(); s != "" && strings.TrimSpace(s) == "" {
			return errorf(k, "must be a message property name, got %s", quote(s))
		}
	}
	return nil
}

// checkSpec checks what the loader checks, for Configs built in code.
func (c *Config) checkSpec(sp *spec) error {
	f := c.field(sp.name)
	switch sp.kind {
	case kInt:
		if n := f.Int(); n < sp.min || n > sp.max {
			return errorf(c.keyName(sp.name), "%s, got %d", rangeText(sp), n)
		}
	case kPort:
		if !f.IsNil() {
			if n := f.Elem().Int(); n < sp.min || n > sp.max {
				return errorf(c.keyName(sp.name), "%s, got %d", rangeText(sp), n)
			}
		}
	case kEnum:
		s := f.String()
		found := false
		for _, e := range sp.enum {
			if s == e {
				found = true
			}
		}
		if !found {
			return errorf(c.keyName(sp.name), "must be one of %s, got %s", strings.Join(sp.enum, ", "), quote(s))
		}
	}
	return nil
}

// regionRE is looser than the KPL's pattern so that emulator regions
// ("local") pass; it still catches spaces, case and typos like "us_east_1".
var regionRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

func (c *Config) checkStreams() error {
	if c.AWSKinesisStreamName == "" {
		if len(c.TopicToStreamMap) == 0 && c.StreamNameProperty == "" {
			return errorf("awsKinesisStreamName", "must be a stream name (or set topicToStreamMap or streamNameProperty), got \"\"")
		}
	} else if msg := c.streamProblem(c.AWSKinesisStreamName); msg != "" {
		return errorf(c.keyName("awsKinesisStreamName"), "%s", msg)
	}
	for _, t := range sortedKeys(c.TopicToStreamMap) {
		if msg := c.streamProblem(c.TopicToStreamMap[t]); msg != "" {
			return errorf("topicToStreamMap", "the stream of %s %s", quote(t), msg)
		}
	}
	return nil
}

// streamProblem says what is wrong with a stream given by name or by ARN,
// or "" when nothing is.
func (c *Config) streamProblem(s string) string {
	if !kinesisrules.IsStreamARN(s) {
		if !kinesisrules.ValidStreamName(s) {
			return "must be a stream name of 1-128 letters, digits, '_', '-' or '.', or a stream ARN, got " + quote(s)
		}
		return ""
	}
	arn, ok := kinesisrules.ParseStreamARN(s)
	if !ok {
		return "must be a stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>) or a stream name, got " + quote(s)
	}
	return arn.RegionProblem(c.AWSRegion)
}

func (c *Config) checkPartitionKey() error {
	switch c.PartitionKeyMode {
	case PartitionKeyModeProperty:
		if c.PartitionKeyProperty == "" {
			return errorf("partitionKeyProperty", "must be a message property name when partitionKeyMode is %q, got \"\"", PartitionKeyModeProperty)
		}
	case PartitionKeyModeField:
		if c.PartitionKeyField == "" {
			return errorf("partitionKeyField", "must be a dotted field path when partitionKeyMode is %q, got \"\"", PartitionKeyModeField)
		}
	case PartitionKeyModeFixed:
		if c.DefaultPartitionKey == "" {
			return errorf("defaultPartitionKey", "must be a key of 1-256 characters when partitionKeyMode is %q, got \"\"", PartitionKeyModeFixed)
		}
	}
	if c.PartitionKeyField != "" {
		for _, seg := range strings.Split(c.PartitionKeyField, ".") {
			if strings.TrimSpace(seg) == "" {
				return errorf("partitionKeyField", "must be a dotted field path such as \"order.customerId\", got %s", quote(c.PartitionKeyField))
			}
		}
	}
	if k := c.DefaultPartitionKey; k != "" && !kinesisrules.ValidPartitionKey(k) {
		return errorf("defaultPartitionKey", "must be a key of 1-256 characters, got %s", quote(k))
	}
	return nil
}

// endpoint is one of the three configurable service endpoints.
type endpoint struct {
	hostKey, portKey string
	host             string
	port             *int
}

func (c *Config) endpoints() []endpoint {
	return []endpoint{
		{"awsEndpoint", "awsEndpointPort", c.AWSEndpoint, c.AWSEndpointPort},
		{"awsStsEndpoint", "awsStsPort", c.AWSStsEndpoint, c.AWSStsPort},
		{"cloudwatchEndpoint", "cloudwatchPort", c.CloudwatchEndpoint, c.CloudwatchPort},
	}
}

// url builds the endpoint URL, "" when the endpoint is not set.
func (e endpoint) url(c *Config) (string, error) {
	if e.host == "" {
		return "", nil
	}
	scheme, host, port, ok := parseEndpoint(e.host)
	if !ok {
		return "", errorf(c.keyName(e.hostKey), "must be a host name, host:port or http(s)://host[:port] URL, got %s", quote(e.host))
	}
	if e.port != nil {
		if port != 0 && port != *e.port {
			return "", errorf(c.keyName(e.portKey), "must match the port in %s (%d), got %d", e.hostKey, port, *e.port)
		}
		port = *e.port
	}
	u := scheme + "://"
	if port != 0 {
		u += net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		u += "[" + host + "]"
	} else {
		u += host
	}
	return u, nil
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// parseEndpoint accepts "host", "host:port", "[v6]:port", a bare IPv6
// address and "http(s)://host[:port][/]". The scheme defaults to https, as
// the KPL always uses TLS.
func parseEndpoint(s string) (scheme, host string, port int, ok bool) {
	scheme = "https"
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "?") {
			return "", "", 0, false
		}
		scheme = u.Scheme
		s = u.Host
	}
	if s == "" || strings.ContainsAny(s, "/?#@ \t\r\n") {
		return "", "", 0, false
	}
	var portStr string
	switch {
	case strings.HasPrefix(s, "["):
		if strings.HasSuffix(s, "]") {
			host = s[1 : len(s)-1]
		} else {
			h, p, err := net.SplitHostPort(s)
			if err != nil {
				return "", "", 0, false
			}
			host, portStr = h, p
		}
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return "", "", 0, false
		}
	case strings.Count(s, ":") > 1:
		if net.ParseIP(s) == nil {
			return "", "", 0, false
		}
		host = s
	case strings.Contains(s, ":"):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", "", 0, false
		}
		host, portStr = h, p
		if !hostRE.MatchString(host) {
			return "", "", 0, false
		}
	default:
		if !hostRE.MatchString(s) {
			return "", "", 0, false
		}
		host = s
	}
	if portStr != "" {
		n, err := strconv.Atoi(portStr)
		if err != nil || n < 1 || n > 65535 || strings.HasPrefix(portStr, "+") {
			return "", "", 0, false
		}
		port = n
	}
	return scheme, host, port, true
}

// KinesisEndpointURL is the Kinesis endpoint as a URL (scheme://host[:port])
// built from awsEndpoint and awsEndpointPort; "" when awsEndpoint is empty
// (the SDK's endpoint for the region applies).
func (c *Config) KinesisEndpointURL() (string, error) { return c.endpoints()[0].url(c) }

// STSEndpointURL is KinesisEndpointURL for awsStsEndpoint and awsStsPort.
func (c *Config) STSEndpointURL() (string, error) { return c.endpoints()[1].url(c) }

// CloudWatchEndpointURL is KinesisEndpointURL for cloudwatchEndpoint and
// cloudwatchPort.
func (c *Config) CloudWatchEndpointURL() (string, error) { return c.endpoints()[2].url(c) }

// awsHostRE finds the region in an AWS service host name such as
// kinesis.eu-west-1.amazonaws.com or kinesis-fips.us-gov-west-1.amazonaws.com.
var awsHostRE = regexp.MustCompile(`^[a-z0-9-]+\.([a-z]{2}(-[a-z]+)+-\d+)\.amazonaws\.com(\.cn)?$`)

// SigningRegion is the region to sign requests with: awsRegion; else the
// region in an AWS awsEndpoint host name; else "us-east-1", which emulators
// accept (the Java rule lets awsRegion be empty when the endpoints are set).
func (c *Config) SigningRegion() string {
	if c.AWSRegion != "" {
		return c.AWSRegion
	}
	if _, host, _, ok := parseEndpoint(c.AWSEndpoint); ok {
		if m := awsHostRE.FindStringSubmatch(strings.ToLower(host)); m != nil {
			return m[1]
		}
	}
	return "us-east-1"
}

// CredentialSource says where AWS credentials come from.
type CredentialSource int

const (
	// StaticKeys: accessKey and secretKey from awsCredentialPluginParam.
	StaticKeys CredentialSource = iota
	// DefaultChain: the AWS SDK default credential chain (environment,
	// shared files, web identity, container and instance roles).
	DefaultChain
	// AssumeRole: STS AssumeRole of roleArn, on top of the default chain.
	AssumeRole
)

func (s CredentialSource) String() string {
	switch s {
	case StaticKeys:
		return "static keys"
	case DefaultChain:
		return "default credential chain"
	case AssumeRole:
		return "assume role"
	}
	return "CredentialSource(" + strconv.Itoa(int(s)) + ")"
}

// Credential plugin class names of the Java sink: the current ones and the
// older names still shown in Pulsar's connector documentation.
const (
	DefaultChainPlugin       = "org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin"
	DefaultChainPluginLegacy = "org.apache.pulsar.io.kinesis.AwsDefaultProviderChainPlugin"
	AssumeRolePlugin         = "org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin"
	AssumeRolePluginLegacy   = "org.apache.pulsar.io.kinesis.STSAssumeRoleProviderPlugin"
)

// Short names of the built-in plugins, added by this sink (the Java sink
// knows only the class names). Package sink/awscfg holds the plugin registry;
// its tests check that it and Credentials accept the same names.
const (
	DefaultChainPluginAlias = "default"
	AssumeRolePluginAlias   = "sts"
	AssumeRolePluginAlias2  = "assumeRole"
)

// Credentials is the parsed credential configuration.
type Credentials struct {
	Source          CredentialSource
	AccessKey       Secret // StaticKeys
	SecretKey       Secret // StaticKeys
	RoleARN         string // AssumeRole
	RoleSessionName string // AssumeRole
}

// Credentials parses awsCredentialPluginName and awsCredentialPluginParam
// (see credparam.go). Errors name the fields, never a value.
func (c *Config) Credentials() (*Credentials, error) {
	param := c.AWSCredentialPluginParam.Reveal()
	switch strings.TrimSpace(c.AWSCredentialPluginName) {
	case "":
		k, _, err := ParseStaticParam(param)
		if err != nil {
			return nil, err
		}
		return &Credentials{Source: StaticKeys, AccessKey: k.AccessKey, SecretKey: k.SecretKey}, nil
	case DefaultChainPlugin, DefaultChainPluginLegacy, DefaultChainPluginAlias:
		if _, _, err := ParseDefaultChainParam(param); err != nil {
			return nil, err
		}
		return &Credentials{Source: DefaultChain}, nil
	case AssumeRolePlugin, AssumeRolePluginLegacy, AssumeRolePluginAlias, AssumeRolePluginAlias2:
		p, _, err := ParseAssumeRoleParam(param)
		if err != nil {
			return nil, err
		}
		return &Credentials{Source: AssumeRole, RoleARN: p.RoleARN, RoleSessionName: p.SessionName}, nil
	}
	return nil, errorf("awsCredentialPluginName", "must be empty (static keys), %s, %s, %s, %s, %s, %s or %s, got %s",
		DefaultChainPlugin, AssumeRolePlugin, DefaultChainPluginLegacy, AssumeRolePluginLegacy,
		DefaultChainPluginAlias, AssumeRolePluginAlias, AssumeRolePluginAlias2, quote(c.AWSCredentialPluginName))
}

// NormalizeTopic returns the full name of a Pulsar topic given as
// [non-]persistent://tenant/namespace/topic, tenant/namespace/topic or topic
// (in public/default), as Pulsar itself completes short names.
func NormalizeTopic(t string) (string, error) {
	bad := fmt.Errorf("%s is not a topic name", quote(t))
	if t == "" || strings.ContainsAny(t, " \t\r\n") || !utf8.ValidString(t) {
		return "", bad
	}
	domain, rest := "persistent", t
	if i := strings.Index(t, "://"); i >= 0 {
		domain, rest = t[:i], t[i+3:]
		if domain != "persistent" && domain != "non-persistent" {
			return "", bad
		}
		if n := strings.Count(rest, "/"); n != 2 && n != 3 {
			return "", bad
		}
	} else {
		switch strings.Count(rest, "/") {
		case 0:
			rest = "public/default/" + rest
		case 2, 3: // tenant/namespace/topic; tenant/cluster/namespace/topic (v1)
		default:
			return "", bad
		}
	}
	for _, p := range strings.Split(rest, "/") {
		if p == "" {
			return "", bad
		}
	}
	return domain + "://" + rest, nil
}
