package format

import (
	"cmp"
	"slices"
	"unicode/utf8"
)

// The Java sink serialises Java maps (message properties, encryption keys,
// key metadata) in their iteration order, so byte parity needs that order.
// Pulsar builds all three maps with Collectors.toMap, i.e. as
// java.util.HashMap, whose iteration order is: bucket index ascending, then
// the order of the bucket's chain. Two details differ between the maps:
//
//   - properties come from the three-argument toMap (a merge function for
//     duplicate keys), which inserts with HashMap.merge: a new entry goes to
//     the HEAD of its chain, the table is grown BEFORE an insert once size
//     exceeds the threshold, and a chain that reaches 8 entries asks for a
//     treeify (which only grows the table while it has fewer than 64
//     buckets);
//   - encryption keys and their metadata come from the two-argument toMap,
//     which inserts with putIfAbsent: a new entry goes to the TAIL of its
//     chain, the table is grown AFTER an insert once size exceeds the
//     threshold, and a chain reaching 9 entries asks for a treeify.
//
// Resizes split chains without reordering them, so within a final bucket the
// order is the insertion order (tail insert) or its reverse (head insert);
// only the final table size needs simulating.
//
// The Go client hands us maps, so the wire order of the entries (Java's
// insertion order) is lost. We assume ascending key order (Go string order,
// i.e. UTF-8 byte order). When no two keys share a bucket, the assumption
// does not matter and our order equals Java's exactly; when some do, it
// decides their relative order. Bins that Java would turn into red-black
// trees (a chain of 8+ entries in a table of 64+ buckets, so at least ~50
// keys with colliding hashes) are not emulated: their entries stay in chain
// order here.
type javaMapKind uint8

const (
	// javaMapMerge: HashMap filled with merge (message properties).
	javaMapMerge javaMapKind = iota
	// javaMapPut: HashMap filled with putIfAbsent (encryption keys, metadata).
	javaMapPut
)

const (
	javaInitialCapacity    = 16
	javaTreeifyThreshold   = 8
	javaMinTreeifyCapacity = 64
)

// ordered is one map entry with the Java bucket hash of its key.
type ordered[V any] struct {
	key  string
	val  V
	hash uint32 // HashMap.hash(key): String.hashCode() ^ (h >>> 16)
}

// javaOrder sorts entries into the iteration order of the Java HashMap of
// the given kind. counts is scratch space (returned for reuse).
func javaOrder[V any](entries []ordered[V], kind javaMapKind, counts []int32) []int32 {
	if len(entries) < 2 {
		return counts
	}
	// Insertion order: ascending keys (see the type comment).
	slices.SortFunc(entries, func(a, b ordered[V]) int { return cmp.Compare(a.key, b.key) })
	var capacity uint32
	capacity, counts = javaTableSize(entries, kind, counts)
	mask := capacity - 1
	if kind == javaMapPut {
		slices.SortStableFunc(entries, func(a, b ordered[V]) int {
			return cmp.Compare(a.hash&mask, b.hash&mask)
		})
		return counts
	}
	// Head insertion: later keys first within a bucket. Reverse, then a
	// stable sort keeps that reversed order inside each bucket.
	slices.Reverse(entries)
	slices.SortStableFunc(entries, func(a, b ordered[V]) int {
		return cmp.Compare(a.hash&mask, b.hash&mask)
	})
	return counts
}

// javaTableSize replays the inserts of entries (in slice order) into a fresh
// Java HashMap and returns the final number of buckets.
func javaTableSize[V any](entries []ordered[V], kind javaMapKind, counts []int32) (uint32, []int32) {
	n := len(entries)
	capacity, threshold := uint32(javaInitialCapacity), javaInitialCapacity*3/4
	// A treeify request needs a chain of 8 (merge) or 9 (put) entries; with
	// fewer entries only the load-factor threshold can grow the table.
	if n < javaTreeifyThreshold {
		return capacity, counts
	}
	resize := func(upTo int) {
		capacity *= 2
		threshold *= 2
		counts = slices.Grow(counts[:0], int(capacity))[:capacity]
		clear(counts)
		for _, e := range entries[:upTo] {
			counts[e.hash&(capacity-1)]++
		}
	}
	counts = slices.Grow(counts[:0], int(capacity))[:capacity]
	clear(counts)
	for i, e := range entries {
		if kind == javaMapMerge && i > threshold {
			resize(i)
		}
		b := e.hash & (capacity - 1)
		chain := counts[b] // entries already in the bucket
		counts[b]++
		size := i + 1
		switch kind {
		case javaMapMerge:
			if chain >= javaTreeifyThreshold-1 && capacity < javaMinTreeifyCapacity {
				resize(size)
			}
		case javaMapPut:
			if chain >= javaTreeifyThreshold && capacity < javaMinTreeifyCapacity {
				resize(size)
			}
			if size > threshold {
				resize(size)
			}
		}
	}
	return capacity, counts
}

// javaHashCode is String.hashCode() of s as Java holds it: s decoded from
// UTF-8 (each invalid byte becoming U+FFFD, as sanitizeUTF8 does) and
// hashed over UTF-16 code units. HashMap then spreads the high bits down.
func javaHashCode(s string) uint32 {
	var h uint32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + uint32(0xD800+(r>>10))
			h = 31*h + uint32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + uint32(r)
	}
	return h ^ (h >> 16)
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
