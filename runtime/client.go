package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch"
)

// NewClient builds the Pulsar client from the instance conf: service URL,
// authentication plugin and parameters, and TLS settings. The official Go
// instance ignores all but the URL; a secured cluster needs the rest.
func NewClient(cfg *InstanceConfig, log *slog.Logger) (pulsar.Client, error) {
	opts := pulsar.ClientOptions{
		URL:                        cfg.ServiceURL,
		TLSTrustCertsFilePath:      cfg.TLSTrustCertsFilePath,
		TLSAllowInsecureConnection: cfg.TLSAllowInsecureConnection,
		TLSValidateHostname:        cfg.TLSHostnameVerification,
		Logger:                     plog.NewLoggerWithSlog(log.With("component", "pulsar-client")),
	}
	if cfg.TLSAllowInsecureConnection {
		log.Warn("TLS certificate verification for Pulsar is off (tlsAllowInsecureConnection=true)")
	}
	if cfg.AuthPlugin != "" {
		a, err := pulsar.NewAuthentication(cfg.AuthPlugin, cfg.AuthParams)
		if err != nil {
			// The parameters may hold a token: name the plugin only.
			return nil, fmt.Errorf("instance conf: \"clientAuthenticationPlugin\": %q could not be set up with the given clientAuthenticationParameters: %s",
				cfg.AuthPlugin, redactErr(err, cfg.AuthParams))
		}
		opts.Authentication = a
	}
	c, err := pulsar.NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("pulsar client for %s: %w", cfg.ServiceURL, err)
	}
	return c, nil
}

func schemaFetchOptions(cfg *InstanceConfig) schemafetch.Options {
	return schemafetch.Options{
		AuthPlugin:                 cfg.AuthPlugin,
		AuthParams:                 cfg.AuthParams,
		TLSTrustCertsFilePath:      cfg.TLSTrustCertsFilePath,
		TLSAllowInsecureConnection: cfg.TLSAllowInsecureConnection,
		TLSValidateHostname:        cfg.TLSHostnameVerification,
	}
}

// redactErr keeps secret material out of an error message.
func redactErr(err error, secret string) string {
	msg := err.Error()
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "****")
}

// publisher implements Publisher with one producer per topic, created on
// first use; the dead-letter path is rare, so producers are made lazily.
type publisher struct {
	client pulsar.Client
	mu     sync.Mutex
	prods  map[string]pulsar.Producer
}

func newPublisher(c pulsar.Client) *publisher {
	return &publisher{client: c, prods: map[string]pulsar.Producer{}}
}

func (p *publisher) producer(topic string) (pulsar.Producer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.prods[topic]; ok {
		return pr, nil
	}
	pr, err := p.client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		return nil, fmt.Errorf("producer for %s: %w", topic, err)
	}
	p.prods[topic] = pr
	return pr, nil
}

func (p *publisher) Publish(ctx context.Context, topic string, payload []byte, key string, props map[string]string) error {
	pr, err := p.producer(topic)
	if err != nil {
		return err
	}
	_, err = pr.Send(ctx, &pulsar.ProducerMessage{Payload: payload, Key: key, Properties: props})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

func (p *publisher) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.prods {
		pr.Close()
	}
	p.prods = nil
}
