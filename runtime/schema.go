package runtime

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/schemafetch"
)

// latestSchemaTTL bounds how long a topic's latest schema is reused for
// messages that carry no schema version.
const latestSchemaTTL = time.Minute

// latestSchemas caches each topic's latest schema. pulsar-client-go
// producers put the schema version only in batch metadata, so a message
// from a non-batching Go producer arrives without one although its topic
// has a schema; the Java instance decodes such messages with the topic's
// schema, and so do we. A topic without a schema caches nil.
type latestSchemas struct {
	mu      sync.Mutex
	entries map[string]latestEntry
}

type latestEntry struct {
	schema *Schema
	until  time.Time
}

func (l *latestSchemas) get(ctx context.Context, f *schemafetch.Fetcher, topic string) (*Schema, error) {
	base := topic
	if i := strings.LastIndex(base, "-partition-"); i > 0 {
		base = base[:i]
	}
	now := time.Now()
	l.mu.Lock()
	e, ok := l.entries[base]
	l.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.schema, nil
	}
	s, err := f.Get(ctx, base, nil)
	if err != nil && !schemafetch.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		s = nil // no schema: the record is bytes
	}
	l.mu.Lock()
	if l.entries == nil {
		l.entries = map[string]latestEntry{}
	}
	l.entries[base] = latestEntry{schema: s, until: now.Add(latestSchemaTTL)}
	l.mu.Unlock()
	return s, nil
}
