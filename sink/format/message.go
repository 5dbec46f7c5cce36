package format

import (
	"sync"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// scratch is the per-call working memory of the JSON and FlatBuffers
// encoders: Java-ordered views of the record's maps and, for FlatBuffers,
// the builder and offset lists. It is pooled so that encoding a record
// allocates nothing once the pool is warm.
type scratch struct {
	props  []ordered[string]
	keys   []ordered[record.EncryptionKey]
	meta   []ordered[string]
	counts []int32

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
	clear(s.props[:cap(s.props)])
	clear(s.keys[:cap(s.keys)])
	clear(s.meta[:cap(s.meta)])
	s.props, s.keys, s.meta = s.props[:0], s.keys[:0], s.meta[:0]
	sp.p.Put(s)
}

// orderedProps returns the record's properties in the iteration order of
// the Java message's property map (javamap.go).
func (s *scratch) orderedProps(m map[string]string) []ordered[string] {
	s.props = s.props[:0]
	for k, v := range m {
		k = sanitizeUTF8(k)
		s.props = append(s.props, ordered[string]{key: k, val: v, hash: javaHashCode(k)})
	}
	s.counts = javaOrder(s.props, javaMapMerge, s.counts)
	return s.props
}

// orderedKeys returns the encryption keys in the Java map's order.
func (s *scratch) orderedKeys(m map[string]record.EncryptionKey) []ordered[record.EncryptionKey] {
	s.keys = s.keys[:0]
	for k, v := range m {
		k = sanitizeUTF8(k)
		s.keys = append(s.keys, ordered[record.EncryptionKey]{key: k, val: v, hash: javaHashCode(k)})
	}
	s.counts = javaOrder(s.keys, javaMapPut, s.counts)
	return s.keys
}

// orderedMeta returns one key's metadata in the Java map's order. The
// result is only valid until the next call.
func (s *scratch) orderedMeta(m map[string]string) []ordered[string] {
	s.meta = s.meta[:0]
	for k, v := range m {
		k = sanitizeUTF8(k)
		s.meta = append(s.meta, ordered[string]{key: k, val: v, hash: javaHashCode(k)})
	}
	s.counts = javaOrder(s.meta, javaMapPut, s.counts)
	return s.meta
}

// javaInt is how Java holds the sizes: a 32-bit int (Pulsar's uint32
// uncompressed size wraps the same way in Java's getter).
func javaInt(v int) int32 { return int32(v) }
