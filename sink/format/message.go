package format

import (
	"cmp"
	"slices"
	"sync"
	"unicode/utf8"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/pulsar-kinesis/kinesis-sink/internal/javamap"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// scratch is the per-call working memory of the JSON and FlatBuffers
// encoders: Java-ordered views of the record's maps and, for FlatBuffers,
// the builder and offset lists. It is pooled so that encoding a record
// allocates nothing once the pool is warm.
type scratch struct {
	// Each map's entries, then the same in Java's order.
	props, propsJava []ordered[string]
	keys, keysJava   []ordered[record.EncryptionKey]
	meta, metaJava   []ordered[string]
	names            javamap.StringKeys
	order            []int32
	hm               javamap.Map

	b       *flatbuffers.Builder
	offs    []flatbuffers.UOffsetT
	keyOffs []flatbuffers.UOffsetT
}

// maxPooledBytes bounds the memory a pooled scratch keeps after encoding a
// large record: bigger buffers are left to the garbage collector so one
// 10 MiB record does not pin 10 MiB per pooled entry.
const maxPooledBytes = 4 << 20

type scratchPool struct{ p sync.Pool }

func (sp *scratchPool) get() *scratch {
	if s, ok := sp.p.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

func (sp *scratchPool) put(s *scratch) {
	if s.b != nil && cap(s.b.Bytes) > maxPooledBytes {
		s.b = nil
	}
	// Drop references into the record so the pool does not keep it alive.
	for _, l := range [...][]ordered[string]{s.props, s.propsJava, s.meta, s.metaJava} {
		clear(l[:cap(l)])
	}
	clear(s.keys[:cap(s.keys)])
	clear(s.keysJava[:cap(s.keysJava)])
	clear(s.names[:cap(s.names)])
	s.props, s.propsJava, s.meta, s.metaJava = s.props[:0], s.propsJava[:0], s.meta[:0], s.metaJava[:0]
	s.keys, s.keysJava, s.names = s.keys[:0], s.keysJava[:0], s.names[:0]
	sp.p.Put(s)
}

// The Java sink serialises Java maps (message properties, encryption keys,
// key metadata) in their iteration order. Pulsar builds all three with
// Collectors.toMap, i.e. as java.util.HashMap: properties with the
// three-argument toMap, which inserts with HashMap.merge, encryption keys
// and their metadata with the two-argument one, which inserts with
// putIfAbsent (put's insertion rules).
//
// The Go client hands us maps, so the wire order of the entries (Java's
// insertion order) is lost. Ascending key order (Go string order) stands
// in for it. When no two keys share a bucket the assumption does not
// matter and the order equals Java's exactly; when some do, it decides
// their relative order.

// ordered is one map entry.
type ordered[V any] struct {
	key string
	val V
}

// javaOrder is the iteration order of the Java HashMap that s.names[:n]
// were inserted into, in that order, by merge or by put.
func (s *scratch) javaOrder(n int, merge bool) []int32 {
	if merge {
		s.order = s.hm.MergeOrder(&s.names, n, s.order[:0])
	} else {
		s.order = s.hm.PutOrder(&s.names, n, -1, s.order[:0])
	}
	return s.order
}

// javaOrdered returns entries in Java's iteration order, in out's memory.
func javaOrdered[V any](s *scratch, entries, out []ordered[V], merge bool) []ordered[V] {
	slices.SortFunc(entries, func(a, b ordered[V]) int { return cmp.Compare(a.key, b.key) })
	s.names = s.names[:0]
	for _, e := range entries {
		s.names = append(s.names, e.key)
	}
	out = out[:0]
	for _, i := range s.javaOrder(len(entries), merge) {
		out = append(out, entries[i])
	}
	return out
}

// orderedProps returns the record's properties in the iteration order of
// the Java message's property map.
func (s *scratch) orderedProps(m map[string]string) []ordered[string] {
	s.props = s.props[:0]
	for k, v := range m {
		s.props = append(s.props, ordered[string]{key: sanitizeUTF8(k), val: v})
	}
	s.propsJava = javaOrdered(s, s.props, s.propsJava, true)
	return s.propsJava
}

// orderedKeys returns the encryption keys in the Java map's order.
func (s *scratch) orderedKeys(m map[string]record.EncryptionKey) []ordered[record.EncryptionKey] {
	s.keys = s.keys[:0]
	for k, v := range m {
		s.keys = append(s.keys, ordered[record.EncryptionKey]{key: sanitizeUTF8(k), val: v})
	}
	s.keysJava = javaOrdered(s, s.keys, s.keysJava, false)
	return s.keysJava
}

// orderedMeta returns one key's metadata in the Java map's order. The
// result is only valid until the next call.
func (s *scratch) orderedMeta(m map[string]string) []ordered[string] {
	s.meta = s.meta[:0]
	for k, v := range m {
		s.meta = append(s.meta, ordered[string]{key: sanitizeUTF8(k), val: v})
	}
	s.metaJava = javaOrdered(s, s.meta, s.metaJava, false)
	return s.metaJava
}

// sanitizeUTF8 returns s with every byte that is not part of a valid UTF-8
// sequence replaced by U+FFFD. Pulsar's Java client decodes protocol
// strings with replacement, so a Java sink never sees invalid UTF-8; the Go
// client passes such bytes through. (Java's decoder may fold a truncated
// multi-byte sequence into one U+FFFD where this writes one per byte; such
// input is malformed to begin with.) Valid strings are returned as is,
// without allocating.
func sanitizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for _, r := range s {
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// javaInt is how Java holds the sizes: a 32-bit int (Pulsar's uint32
// uncompressed size wraps the same way in Java's getter).
func javaInt(v int) int32 { return int32(v) }
