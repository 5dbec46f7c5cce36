package sink

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// rateLimit reaches the producer: the default (150) and a configured value.
func TestProducerOptionsRateLimit(t *testing.T) {
	cfg := conf.Default()
	if got := producerOptions(cfg, 1, nil).RateLimit; got != conf.DefaultRateLimit {
		t.Errorf("default: RateLimit %v, want %d", got, conf.DefaultRateLimit)
	}
	cfg.RateLimit = 40
	if got := producerOptions(cfg, 1, nil).RateLimit; got != 40 {
		t.Errorf("RateLimit %v, want 40", got)
	}
}

// With rateLimitScope "function" (the default) the instances of a function
// share the rate: each takes rateLimit / parallelism; "instance" gives each
// all of it.
func TestProducerOptionsRateLimitShared(t *testing.T) {
	cfg := conf.Default()
	cfg.RateLimit = 100
	for _, c := range []struct {
		scope       conf.RateLimitScope
		parallelism int
		want        float64
	}{
		{conf.RateLimitPerFunction, 1, 100},
		{conf.RateLimitPerFunction, 0, 100},
		{conf.RateLimitPerFunction, 3, 100.0 / 3},
		{conf.RateLimitPerFunction, 4, 25},
		{conf.RateLimitPerInstance, 3, 100},
	} {
		cfg.RateLimitScope = c.scope
		if got := producerOptions(cfg, c.parallelism, nil).RateLimit; got != c.want {
			t.Errorf("%s, parallelism %d: RateLimit %v, want %v", c.scope, c.parallelism, got, c.want)
		}
	}
}

// The producer's warnings reach the sink's logger: through slog.Default they
// lost the instance's attributes and, on the NAR path, the level=WARN the
// Java side reads to log them as warnings.
func TestProducerOptionsLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil)).With("fqfn", "public/default/k")
	producerOptions(conf.Default(), 1, log).Logger.Warn("callbacks slow")
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "fqfn=public/default/k") {
		t.Errorf("the producer's warning went elsewhere: %q", got)
	}
}
