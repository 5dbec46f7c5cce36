package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch"
)

// NewClient builds the Pulsar client from the instance conf: service URL,
// authentication plugin and parameters, and TLS settings. The official Go
// instance ignores all but the URL; a secured cluster needs the rest.
func NewClient(cfg *InstanceConfig, log *slog.Logger) (pulsar.Client, error) {
	c, _, err := newClient(cfg, log)
	return c, err
}

// connErrors remembers the last reason the client could not connect to a
// broker. pulsar-client-go only logs it (an authentication or certificate
// failure) and then reports a bare timeout; the runtime adds it to the
// error it exits with.
type connErrors struct {
	slog.Handler
	last *atomic.Value
	err  string // an "error" attribute added by WithAttrs (pulsar-client-go's WithError)
}

func (h connErrors) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && strings.Contains(r.Message, "connect") {
		msg := strings.TrimSuffix(r.Message, ".")
		errText := h.err
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" || a.Key == "err" {
				errText = a.Value.String()
			}
			return true
		})
		if errText != "" {
			msg += ": " + errText
		}
		h.last.Store(msg)
	}
	return h.Handler.Handle(ctx, r)
}

func (h connErrors) WithAttrs(as []slog.Attr) slog.Handler {
	n := connErrors{h.Handler.WithAttrs(as), h.last, h.err}
	for _, a := range as {
		if a.Key == "error" || a.Key == "err" {
			n.err = a.Value.String()
		}
	}
	return n
}

func (h connErrors) WithGroup(name string) slog.Handler {
	return connErrors{h.Handler.WithGroup(name), h.last, h.err}
}

// lastConnError returns the last connection failure logged, or "".
func lastConnError(v *atomic.Value) string {
	if v == nil {
		return ""
	}
	s, _ := v.Load().(string)
	return s
}

func newClient(cfg *InstanceConfig, log *slog.Logger) (pulsar.Client, *atomic.Value, error) {
	last := &atomic.Value{}
	clog := slog.New(connErrors{Handler: log.Handler(), last: last}).With("component", "pulsar-client")
	opts := pulsar.ClientOptions{
		URL:                        cfg.ServiceURL,
		TLSTrustCertsFilePath:      cfg.TLSTrustCertsFilePath,
		TLSAllowInsecureConnection: cfg.TLSAllowInsecureConnection,
		TLSValidateHostname:        cfg.TLSHostnameVerification,
		Logger:                     plog.NewLoggerWithSlog(clog),
	}
	if cfg.TLSAllowInsecureConnection {
		log.Warn("TLS certificate verification for Pulsar is off (tlsAllowInsecureConnection=true)")
	}
	if cfg.AuthPlugin != "" {
		a, err := pulsar.NewAuthentication(cfg.AuthPlugin, GoAuthParams(cfg.AuthPlugin, cfg.AuthParams))
		if err != nil {
			// The parameters may hold a token: name the plugin only.
			return nil, nil, fmt.Errorf("instance conf: \"clientAuthenticationPlugin\": %q could not be set up with the given clientAuthenticationParameters: %s",
				cfg.AuthPlugin, redactErr(err, cfg.AuthParams))
		}
		opts.Authentication = a
	}
	c, err := pulsar.NewClient(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("pulsar client for %s: %w", cfg.ServiceURL, err)
	}
	return c, last, nil
}

func schemaFetchOptions(cfg *InstanceConfig) schemafetch.Options {
	return schemafetch.Options{
		AuthPlugin:                 cfg.AuthPlugin,
		AuthParams:                 GoAuthParams(cfg.AuthPlugin, cfg.AuthParams),
		TLSTrustCertsFilePath:      cfg.TLSTrustCertsFilePath,
		TLSAllowInsecureConnection: cfg.TLSAllowInsecureConnection,
		TLSValidateHostname:        cfg.TLSHostnameVerification,
	}
}

// GoAuthParams turns clientAuthenticationParameters as the Java worker and
// pulsar-admin write them into the JSON object pulsar-client-go expects. The
// worker passes them in the Java client's form: "token:<jwt>", "file:///path"
// or a bare token for AuthenticationToken, "key1:value1,key2:value2" for
// AuthenticationTls and the older plugins. A JSON object is kept as it is
// (oauth2 and basic use JSON in both clients).
func GoAuthParams(plugin, params string) string {
	p := strings.TrimSpace(params)
	if p == "" || strings.HasPrefix(p, "{") {
		return params
	}
	m := map[string]string{}
	switch {
	case plugin == "token" || strings.HasSuffix(plugin, ".AuthenticationToken"):
		switch {
		case strings.HasPrefix(p, "token:"):
			m["token"] = strings.TrimPrefix(p, "token:")
		case strings.HasPrefix(p, "file:"):
			m["file"] = strings.TrimPrefix(strings.TrimPrefix(p, "file:"), "//")
		default:
			m["token"] = p
		}
	default:
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return params
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
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
