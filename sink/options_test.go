package sink

import (
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// rateLimit reaches the producer: the default (150) and a configured value.
func TestProducerOptionsRateLimit(t *testing.T) {
	cfg := conf.Default()
	if got := producerOptions(cfg).RateLimit; got != conf.DefaultRateLimit {
		t.Errorf("default: RateLimit %d, want %d", got, conf.DefaultRateLimit)
	}
	cfg.RateLimit = 40
	if got := producerOptions(cfg).RateLimit; got != 40 {
		t.Errorf("RateLimit %d, want 40", got)
	}
}
