package producer

import (
	"math/rand/v2"
	"time"
)

// backoff is the one rule for how long something that failed waits before
// its next try: a record's next attempt, a stream paused by whole-request
// failures, a shard map load. The delay starts at initial and doubles with
// each further consecutive failure up to max; jitter then takes a random
// part of up to half of it off, so that what failed together does not
// retry together, while the delay never falls below half its nominal value
// (a retry storm after an outage stays spread over at least that).
//
// The random source is injected (Options.Rand), as aws-sdk-go-v2's
// ExponentialJitterBackoff takes its own: a seeded source makes a run's
// delays repeatable. It is used under the producer's lock only.
type backoff struct {
	initial, max time.Duration
	rnd          *rand.Rand // nil: math/rand/v2's global source
}

func (p *Producer) backoff() backoff {
	return backoff{initial: p.opts.RetryInitialDelay, max: p.opts.RetryMaxDelay, rnd: p.opts.Rand}
}

// nominal is the delay after failures consecutive failures (1 for the
// first), raised to floor and capped at max, before jitter.
func (b backoff) nominal(failures int, floor time.Duration) time.Duration {
	d := b.initial
	for i := 1; i < failures && d < b.max; i++ {
		d *= 2
	}
	return min(max(d, floor), b.max)
}

// delay is nominal less its jitter: in [nominal/2, nominal].
func (b backoff) delay(failures int, floor time.Duration) time.Duration {
	d := b.nominal(failures, floor)
	n := int64(d/2) + 1
	if b.rnd != nil {
		return d - time.Duration(b.rnd.Int64N(n))
	}
	return d - time.Duration(rand.Int64N(n))
}
