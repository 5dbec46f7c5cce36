package producer

import "time"

type shardKey struct {
	st    *streamState
	shard string
}

// shardState is a per-shard throttling backoff: the floor for the retry
// delay of records throttled on that shard. It doubles at most once per
// window while the shard keeps throttling and halves once per window while
// it accepts records, so parallel requests hitting the same hot shard do not
// each double it. Guarded by Producer.mu.
type shardState struct {
	delay   time.Duration
	changed time.Time
}

// observe takes one response's decision for the shard: throttled and ok
// count its records in it. Only throttled records: the shard is over its
// limit, the delay doubles (up to bo.max). Both: the shard is at its
// limit, the delay holds. Only accepted ones: it halves. One decision per
// window (the current delay), so that responses to requests sent together
// count once. It returns false when the delay fell below bo.initial and
// the shard is to be forgotten.
func (s *shardState) observe(throttled, ok int, now time.Time, bo backoff) (keep bool) {
	switch {
	case now.Sub(s.changed) < s.delay:
	case throttled > 0 && ok == 0:
		s.delay = min(2*s.delay, bo.max)
		s.changed = now
	case throttled == 0:
		s.delay /= 2
		s.changed = now
		return s.delay >= bo.initial
	}
	return true
}
