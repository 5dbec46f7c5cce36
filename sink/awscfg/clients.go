package awscfg

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pulsar-kinesis/kinesis-sink/conf"

	"github.com/pulsar-kinesis/kinesis-sink/internal/certerr"
	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
)

const (
	// DefaultExpiryWindow is how long before expiry credentials are renewed
	// (the Java SDK's STS provider also prefetches 5 minutes ahead). Long
	// enough to ride out an STS outage of a few minutes with the current
	// keys, short enough for the 15-minute sessions STS allows at least.
	DefaultExpiryWindow = 5 * time.Minute

	// credentialsTimeout bounds one STS or credential-endpoint call, and the
	// credential check in New. The credentials cache deliberately ignores
	// the caller's cancellation, so without it a hung STS connection would
	// block every request waiting for the renewal.
	credentialsTimeout = 30 * time.Second

	// cloudWatchMinCompressSize is the SDK's default request compression
	// threshold (config.LoadDefaultConfig sets it; a hand-built aws.Config
	// would leave 0 and gzip every PutMetricData).
	cloudWatchMinCompressSize = 10240
)

// Options tune New. The zero value suits production.
type Options struct {
	// Logger receives warnings and credential renewal problems; nil means
	// slog.Default().
	Logger *slog.Logger

	// KinesisHTTPClient carries the Kinesis calls. The sink passes
	// producer.NewHTTPClient(...) so that the idle pool matches the
	// requests in flight. A *awshttp.BuildableClient also gets
	// connectTimeout and skipCertificateValidation applied; another client
	// is used as it is. nil: a client with connections for maxConnections.
	KinesisHTTPClient aws.HTTPClient

	// CloudWatchQueryProtocol forces the AWS query protocol for CloudWatch.
	// It is already chosen when cloudwatchEndpoint is outside AWS's domains
	// (emulators such as moto cannot decode the SDK's default CBOR).
	CloudWatchQueryProtocol bool

	// CredentialsExpiryWindow is how long before expiry credentials are
	// renewed; 0 means DefaultExpiryWindow. Tests shorten the effective
	// session with it (STS will not issue sessions under 15 minutes).
	CredentialsExpiryWindow time.Duration
}

// Clients are the AWS clients of one sink instance, all signed by the same
// credentials.
type Clients struct {
	Kinesis *kinesis.Client
	// CloudWatch is nil when metricsLevel is "none".
	CloudWatch *cloudwatch.Client
	// Credentials is the cached provider shared by both clients.
	Credentials aws.CredentialsProvider
	// Region is the signing region.
	Region string

	refresher *refresher
	renewer   *renewer
}

// Close stops the credential renewal goroutine. The clients keep working
// (renewing on use) but should not be used afterwards.
func (c *Clients) Close() {
	if c != nil && c.refresher != nil {
		c.refresher.close()
	}
}

// New builds the credentials and clients for cfg, and fetches the
// credentials once so that a wrong plugin, param, role or missing
// credentials fail here, at open, with one line saying why.
func New(ctx context.Context, cfg *conf.Config, o Options) (*Clients, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.AWSRegion == "" && (cfg.AWSEndpoint == "" || cfg.CloudwatchEndpoint == "") {
		return nil, &conf.Error{Msg: `Either "awsRegion" must be set OR all of ["awsEndpoint", "cloudwatchEndpoint"] must be set.`}
	}
	kinesisURL, err := cfg.KinesisEndpointURL()
	if err != nil {
		return nil, err
	}
	stsURL, err := cfg.STSEndpointURL()
	if err != nil {
		return nil, err
	}
	cwURL, err := cfg.CloudWatchEndpointURL()
	if err != nil {
		return nil, err
	}
	if err := endpointsFromEnv(&kinesisURL, &stsURL, &cwURL, func(service, variable, url string) {
		log.Info("endpoint from the environment", "service", strings.ToLower(service), "variable", variable, "url", url)
	}); err != nil {
		return nil, err
	}
	plugin, err := Lookup(cfg.AWSCredentialPluginName)
	if err != nil {
		return nil, err
	}
	if cfg.SkipCertificateValidation {
		log.Warn("skipCertificateValidation is set: TLS certificates of Kinesis, STS and CloudWatch are not verified; use it with local emulators only")
	}

	region := cfg.SigningRegion()
	base := configureHTTP(awshttp.NewBuildableClient(), cfg)
	window := o.CredentialsExpiryWindow
	if window <= 0 {
		window = DefaultExpiryWindow
	}
	env := Env{
		Region:       region,
		STSEndpoint:  stsURL,
		HTTPClient:   base.WithTimeout(credentialsTimeout),
		ExpiryWindow: window,
		RetryDelay:   refreshInterval(cfg),
		Logger:       log,
	}
	creds, ren, err := newCredentials(ctx, plugin, cfg, env)
	if err != nil {
		return nil, err
	}
	checkCtx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	got, err := creds.Retrieve(checkCtx)
	cancel()
	if err != nil {
		return nil, credentialsFailure(plugin, cfg.AWSCredentialPluginParam.Reveal(), err)
	}

	c := &Clients{Credentials: creds, Region: region, renewer: ren}
	awsCfg := aws.Config{Region: region, Credentials: creds, Retryer: finalCertErrorsRetryer, APIOptions: sdkbody.APIOptions()}

	awsCfg.HTTPClient = kinesisHTTPClient(o.KinesisHTTPClient, base, cfg, log)
	c.Kinesis = kinesis.NewFromConfig(awsCfg, func(ko *kinesis.Options) {
		if kinesisURL != "" {
			ko.BaseEndpoint = aws.String(kinesisURL)
		}
	})

	if cfg.CloudWatchEnabled() {
		awsCfg.HTTPClient = base
		query := UseQueryProtocol(cwURL, o.CloudWatchQueryProtocol)
		c.CloudWatch = cloudwatch.NewFromConfig(awsCfg, func(co *cloudwatch.Options) {
			if cwURL != "" {
				co.BaseEndpoint = aws.String(cwURL)
			}
			if query {
				co.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
			}
			co.RequestMinCompressSizeBytes = cloudWatchMinCompressSize
		})
	}

	if got.CanExpire {
		c.refresher = startRefresher(creds, refreshInterval(cfg))
	}
	return c, nil
}

// NewCredentials builds the cached credentials provider that cfg's plugin
// and param describe, without fetching credentials.
func NewCredentials(ctx context.Context, cfg *conf.Config, env Env) (aws.CredentialsProvider, error) {
	plugin, err := Lookup(cfg.AWSCredentialPluginName)
	if err != nil {
		return nil, err
	}
	if env.ExpiryWindow <= 0 {
		env.ExpiryWindow = DefaultExpiryWindow
	}
	if env.RetryDelay <= 0 {
		env.RetryDelay = refreshInterval(cfg)
	}
	p, _, err := newCredentials(ctx, plugin, cfg, env)
	return p, err
}

func newCredentials(ctx context.Context, plugin *Plugin, cfg *conf.Config, env Env) (aws.CredentialsProvider, *renewer, error) {
	p, err := plugin.Provider(ctx, cfg.AWSCredentialPluginParam.Reveal(), env)
	if err != nil {
		return nil, nil, err
	}
	// The cache gives the clients the SDK's usual concurrency-safe provider;
	// the renewal window lives in the renewer below it (see renewer for why
	// not the cache's ExpiryWindow), which caps the expiry the cache sees.
	r := newRenewer(p, env)
	return aws.NewCredentialsCache(r), r, nil
}

func refreshInterval(cfg *conf.Config) time.Duration {
	if d := cfg.CredentialsRefreshInterval(); d > 0 {
		return d
	}
	return conf.DefaultCredentialsRefreshDelay * time.Millisecond
}

// configureHTTP applies connectTimeout (TCP connect and TLS handshake) and
// skipCertificateValidation.
func configureHTTP(b *awshttp.BuildableClient, cfg *conf.Config) *awshttp.BuildableClient {
	ct := cfg.ConnectTimeoutDuration()
	if ct <= 0 {
		ct = conf.DefaultConnectTimeout * time.Millisecond
	}
	skip := cfg.SkipCertificateValidation
	return b.WithDialerOptions(func(d *net.Dialer) { d.Timeout = ct }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = ct
			if skip {
				if t.TLSClientConfig == nil {
					t.TLSClientConfig = &tls.Config{}
				} else {
					t.TLSClientConfig = t.TLSClientConfig.Clone()
				}
				t.TLSClientConfig.InsecureSkipVerify = true // #nosec G402 -- opt-in for emulators
			}
		})
}

func kinesisHTTPClient(given aws.HTTPClient, base *awshttp.BuildableClient, cfg *conf.Config, log *slog.Logger) aws.HTTPClient {
	switch c := given.(type) {
	case nil:
		// Idle connections for every request in flight, as the producer's
		// NewHTTPClient does; Go's default keeps 2 per host.
		n := cfg.MaxConnections
		if n <= 0 {
			n = conf.DefaultMaxConnections
		}
		return base.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = n + 8
			t.MaxIdleConnsPerHost = n + 8
		})
	case *awshttp.BuildableClient:
		return configureHTTP(c, cfg)
	default:
		if cfg.SkipCertificateValidation {
			log.Warn("skipCertificateValidation and connectTimeout cannot be applied to the given Kinesis HTTP client (not an *awshttp.BuildableClient)")
		}
		return given
	}
}

// awsDomains are the DNS suffixes of AWS service endpoints in every
// partition that has a public one.
var awsDomains = []string{"amazonaws.com", "amazonaws.com.cn", "api.aws", "amazonaws.eu"}

// UseQueryProtocol reports whether the CloudWatch client should speak the
// AWS query protocol: when forced, or when the endpoint is set to a host
// outside AWS (an emulator). AWS hosts, and the region's default endpoint,
// keep the SDK's default protocol.
func UseQueryProtocol(endpointURL string, force bool) bool {
	if force {
		return true
	}
	if endpointURL == "" {
		return false
	}
	u, err := url.Parse(endpointURL)
	if err != nil {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, d := range awsDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return false
		}
	}
	return true
}

// finalCertErrorsRetryer is the SDK's standard retryer, except that a TLS
// certificate the client does not trust is final: retrying cannot fix it,
// and the SDK would retry it until the caller's deadline and then report
// only the deadline, hiding the reason.
func finalCertErrorsRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if certerr.Is(err) {
				return aws.FalseTernary
			}
			return aws.UnknownTernary
		})}, o.Retryables...)
	})
}
