package sink

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// awsClients are the AWS clients the sink uses.
type awsClients struct {
	Kinesis *kinesis.Client
}

// newAWSClients builds the Kinesis client from the sink config: region,
// endpoint, static keys or the default chain, certificate checking.
func newAWSClients(ctx context.Context, cfg *conf.Config, httpClient *awshttp.BuildableClient, log *slog.Logger) (*awsClients, error) {
	creds, err := cfg.Credentials()
	if err != nil {
		return nil, err
	}
	if cfg.SkipCertificateValidation {
		log.Warn("skipCertificateValidation=true: TLS certificates of AWS endpoints are not verified")
		httpClient = httpClient.WithTransportOptions(func(t *http.Transport) {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.InsecureSkipVerify = true
		})
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.SigningRegion()),
		config.WithHTTPClient(httpClient),
	}
	switch creds.Source {
	case conf.StaticKeys:
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(creds.AccessKey.Reveal(), creds.SecretKey.Reveal(), "")))
	case conf.DefaultChain:
	default:
		return nil, fmt.Errorf("sink config: \"awsCredentialPluginName\": %s is not supported yet", creds.Source)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	endpoint, err := cfg.KinesisEndpointURL()
	if err != nil {
		return nil, err
	}
	kc := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return &awsClients{Kinesis: kc}, nil
}
