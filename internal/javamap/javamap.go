// Package javamap reproduces the iteration order of java.util.HashMap. The
// Java sink writes maps (message properties, encryption keys and their
// metadata, Avro map values, the KEY_VALUE pair) in their iteration order,
// so byte parity with it needs that order, for any keys.
//
// HashMap iterates buckets in index order and each bucket along its chain.
// A chain reaching 8 or 9 nodes (merge or put) either grows a table smaller
// than 64 buckets or becomes a red-black tree whose chain order is changed by
// every insert (the root moves to the front, a new node is linked behind its
// tree parent). That case needs colliding keys, but it can be provoked with
// crafted keys, so it is simulated too: the order stays exact for any input.
//
// The simulation is written from the documented behaviour of
// java.util.HashMap (Java 8 and later; unchanged through Java 25). A Map is
// reusable: Reset keeps its buffers, so a warm Map orders keys without
// allocating.
package javamap

import (
	"unicode/utf16"
)

const (
	hmDefaultCapacity   = 16
	hmTreeifyThreshold  = 8
	hmUntreeifyLimit    = 6
	hmMinTreeifyBuckets = 64
	hmMaxCapacity       = 1 << 30
)

// Keys describes the keys of one simulated map: their Java hashCode() and
// their compareTo order (only consulted inside tree bins).
type Keys interface {
	HashCode(i int) int32
	Compare(i, j int) int
}

// StringKeys are java.lang.String keys given as Go strings. A byte that is
// not valid UTF-8 counts as U+FFFD, as Pulsar's Java client decodes it.
type StringKeys []string

func (k StringKeys) HashCode(i int) int32 { return StringHash(k[i]) }
func (k StringKeys) Compare(i, j int) int { return compareUTF16(k[i], k[j]) }

// UTF8Keys are org.apache.avro.util.Utf8 keys: hashed and compared over
// their raw bytes, which may not even be valid UTF-8.
type UTF8Keys [][]byte

func (k UTF8Keys) HashCode(i int) int32 {
	var h int32
	for _, b := range k[i] {
		h = 31*h + int32(int8(b))
	}
	return h
}

func (k UTF8Keys) Compare(i, j int) int {
	a, b := k[i], k[j]
	for n := 0; n < len(a) && n < len(b); n++ {
		if a[n] != b[n] {
			return int(a[n]) - int(b[n])
		}
	}
	return len(a) - len(b)
}

// StringHash is String.hashCode(): over UTF-16 code units. Ranging over a
// Go string yields U+FFFD for each invalid byte, which is what Java holds
// after decoding such bytes with replacement.
func StringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + int32(hi)
			h = 31*h + int32(lo)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// Spread is HashMap.hash: the key's hashCode with its high bits folded
// into the low ones. The bucket of a key is Spread(h) & (buckets-1).
func Spread(h int32) int32 { return h ^ int32(uint32(h)>>16) }

// compareUTF16 is String.compareTo: lexicographic over UTF-16 code units,
// which differs from code point order for supplementary characters. Only
// tree bins (crafted colliding keys) call it, so it may allocate.
func compareUTF16(a, b string) int {
	ua := utf16.Encode([]rune(a))
	ub := utf16.Encode([]rune(b))
	for n := 0; n < len(ua) && n < len(ub); n++ {
		if ua[n] != ub[n] {
			return int(ua[n]) - int(ub[n])
		}
	}
	return len(ua) - len(ub)
}

// hmBin is one bucket: a doubly linked chain through Map.next/prev.
type hmBin struct {
	head, tail int32 // -1 when empty
	n          int32
	tree       bool
}

// Map simulates the bucket structure of a java.util.HashMap holding
// distinct keys, inserted by Put (tail insertion, grow after the insert) or
// by Merge (head insertion, grow before the insert). The zero value is
// ready for Reset.
type Map struct {
	keys       Keys
	hashes     []int32 // spread hash per key index
	table      []hmBin
	spare      []hmBin // the previous table, reused by the next resize
	threshold  int
	size       int
	next, prev []int32 // chain links per key index
	// Tree links per key index, valid while the key sits in a tree bin.
	left, right, parent []int32
	red                 []bool
	treeLinks           bool // the tree links are sized for this round
}

// Reset empties m for n keys described by keys, reusing its buffers.
// initialCapacity < 0 means new HashMap() (16 buckets on first insert),
// otherwise new HashMap(initialCapacity).
func (m *Map) Reset(keys Keys, n int, initialCapacity int) {
	m.keys = keys
	m.hashes = grow(m.hashes, n)
	m.next = grow(m.next, n)
	m.prev = grow(m.prev, n)
	for i := range n {
		m.hashes[i] = Spread(keys.HashCode(i))
	}
	m.table, m.spare = m.table[:0], m.spare[:0]
	m.size, m.threshold = 0, 0
	m.treeLinks = false
	if initialCapacity >= 0 {
		m.threshold = tableSizeFor(initialCapacity)
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func tableSizeFor(c int) int {
	n := 1
	for n < c && n < hmMaxCapacity {
		n <<= 1
	}
	return n
}

// newTable returns n empty buckets, in the spare table's memory when it is
// large enough.
func (m *Map) newTable(n int) []hmBin {
	t := grow(m.spare, n)
	for i := range t {
		t[i] = hmBin{head: -1, tail: -1}
	}
	return t
}

func (m *Map) appendTail(b *hmBin, k int32) {
	m.next[k], m.prev[k] = -1, b.tail
	if b.tail >= 0 {
		m.next[b.tail] = k
	} else {
		b.head = k
	}
	b.tail = k
	b.n++
}

func (m *Map) pushHead(b *hmBin, k int32) {
	m.prev[k], m.next[k] = -1, b.head
	if b.head >= 0 {
		m.prev[b.head] = k
	} else {
		b.tail = k
	}
	b.head = k
	b.n++
}

func (m *Map) insertAfter(b *hmBin, xp, x int32) {
	xn := m.next[xp]
	m.next[xp], m.prev[x], m.next[x] = x, xp, xn
	if xn >= 0 {
		m.prev[xn] = x
	} else {
		b.tail = x
	}
	b.n++
}

// moveToFront makes the tree root the first node of its chain.
func (m *Map) moveToFront(b *hmBin, r int32) {
	if b.head == r {
		return
	}
	p, nx := m.prev[r], m.next[r]
	m.next[p] = nx
	if nx >= 0 {
		m.prev[nx] = p
	} else {
		b.tail = p
	}
	m.prev[r], m.next[r] = -1, b.head
	m.prev[b.head] = r
	b.head = r
}

func (m *Map) bucket(k int32, n int) int { return int(m.hashes[k]) & (n - 1) }

// Put inserts key k as HashMap.put (and putIfAbsent) do.
func (m *Map) Put(k int32) {
	if len(m.table) == 0 {
		m.resize()
	}
	i := m.bucket(k, len(m.table))
	b := &m.table[i]
	switch {
	case b.n == 0:
		m.appendTail(b, k)
	case b.tree:
		m.putTreeVal(b, k)
	default:
		m.appendTail(b, k)
		if b.n > hmTreeifyThreshold {
			m.treeifyBin(i)
		}
	}
	m.size++
	if m.size > m.threshold {
		m.resize()
	}
}

// Merge inserts key k as HashMap.merge does.
func (m *Map) Merge(k int32) {
	if len(m.table) == 0 || m.size > m.threshold {
		m.resize()
	}
	i := m.bucket(k, len(m.table))
	b := &m.table[i]
	if b.tree {
		m.putTreeVal(b, k)
	} else {
		existing := b.n
		m.pushHead(b, k)
		if existing >= hmTreeifyThreshold-1 {
			m.treeifyBin(i)
		}
	}
	m.size++
}

func (m *Map) resize() {
	oldCap := len(m.table)
	oldThr := m.threshold
	var newCap, newThr int
	switch {
	case oldCap > 0:
		if oldCap >= hmMaxCapacity {
			m.threshold = int(^uint32(0) >> 1)
			return
		}
		newCap = oldCap << 1
		if newCap < hmMaxCapacity && oldCap >= hmDefaultCapacity {
			newThr = oldThr << 1
		}
	case oldThr > 0:
		newCap = oldThr
	default:
		newCap = hmDefaultCapacity
		newThr = hmDefaultCapacity * 3 / 4
	}
	if newThr == 0 {
		// (int)(newCap * 0.75f); exact for powers of two.
		newThr = newCap * 3 / 4
		if newCap >= hmMaxCapacity {
			newThr = int(^uint32(0) >> 1)
		}
	}
	m.threshold = newThr
	newTab := m.newTable(newCap)
	for j := range m.table {
		old := m.table[j]
		if old.n == 0 {
			continue
		}
		lo, hi := &newTab[j], &newTab[j+oldCap]
		// Splitting keeps the chain order in both halves.
		for k := old.head; k >= 0; {
			nx := m.next[k]
			if int(m.hashes[k])&oldCap == 0 {
				m.appendTail(lo, k)
			} else {
				m.appendTail(hi, k)
			}
			k = nx
		}
		if !old.tree {
			continue
		}
		for _, part := range [2]struct{ b, other *hmBin }{{lo, hi}, {hi, lo}} {
			if part.b.n <= hmUntreeifyLimit {
				continue // untreeified: a plain chain in the same order
			}
			part.b.tree = true
			if part.other.n > 0 {
				m.treeify(part.b)
			}
			// Otherwise the whole tree moved unchanged, root still in front.
		}
	}
	m.table, m.spare = newTab, m.table
}

func (m *Map) treeifyBin(i int) {
	if len(m.table) < hmMinTreeifyBuckets {
		m.resize()
		return
	}
	b := &m.table[i]
	b.tree = true
	m.treeify(b)
}

func (m *Map) ensureTreeLinks() {
	if !m.treeLinks {
		n := len(m.hashes)
		m.left = grow(m.left, n)
		m.right = grow(m.right, n)
		m.parent = grow(m.parent, n)
		m.red = grow(m.red, n)
		m.treeLinks = true
	}
}

// dir orders key x against tree node p: hash first, then compareTo.
func (m *Map) dir(x, p int32) int {
	hx, hp := m.hashes[x], m.hashes[p]
	switch {
	case hp > hx:
		return -1
	case hp < hx:
		return 1
	}
	if c := m.keys.Compare(int(x), int(p)); c != 0 {
		return c
	}
	// Only distinct keys are inserted, and String and Utf8 order distinct
	// keys, so Java's identity-hash tie break is never reached.
	return -1
}

// treeify builds the red-black tree from the chain order and moves its root
// to the front of the chain.
func (m *Map) treeify(b *hmBin) {
	m.ensureTreeLinks()
	root := int32(-1)
	for x := b.head; x >= 0; x = m.next[x] {
		m.left[x], m.right[x] = -1, -1
		if root < 0 {
			m.parent[x] = -1
			m.red[x] = false
			root = x
			continue
		}
		m.attach(root, x)
		root = m.balanceInsertion(root, x)
	}
	m.moveToFront(b, root)
}

// attach links x as a leaf below the node its ordering leads to, and
// returns that parent.
func (m *Map) attach(root, x int32) int32 {
	p := root
	for {
		d := m.dir(x, p)
		xp := p
		if d <= 0 {
			p = m.left[p]
		} else {
			p = m.right[p]
		}
		if p < 0 {
			m.parent[x] = xp
			if d <= 0 {
				m.left[xp] = x
			} else {
				m.right[xp] = x
			}
			return xp
		}
	}
}

func (m *Map) putTreeVal(b *hmBin, x int32) {
	root := b.head
	m.left[x], m.right[x] = -1, -1
	xp := m.attach(root, x)
	// The new node is linked into the chain right behind its tree parent.
	m.insertAfter(b, xp, x)
	m.moveToFront(b, m.balanceInsertion(root, x))
}

func (m *Map) rotateLeft(root, p int32) int32 {
	r := m.right[p]
	if p < 0 || r < 0 {
		return root
	}
	rl := m.left[r]
	m.right[p] = rl
	if rl >= 0 {
		m.parent[rl] = p
	}
	pp := m.parent[p]
	m.parent[r] = pp
	switch {
	case pp < 0:
		root = r
		m.red[r] = false
	case m.left[pp] == p:
		m.left[pp] = r
	default:
		m.right[pp] = r
	}
	m.left[r] = p
	m.parent[p] = r
	return root
}

func (m *Map) rotateRight(root, p int32) int32 {
	l := m.left[p]
	if p < 0 || l < 0 {
		return root
	}
	lr := m.right[l]
	m.left[p] = lr
	if lr >= 0 {
		m.parent[lr] = p
	}
	pp := m.parent[p]
	m.parent[l] = pp
	switch {
	case pp < 0:
		root = l
		m.red[l] = false
	case m.right[pp] == p:
		m.right[pp] = l
	default:
		m.left[pp] = l
	}
	m.right[l] = p
	m.parent[p] = l
	return root
}

// balanceInsertion is the textbook red-black insert fix-up, in the variant
// HashMap uses (it decides which node ends up as root, hence chain order).
func (m *Map) balanceInsertion(root, x int32) int32 {
	m.red[x] = true
	for {
		xp := m.parent[x]
		if xp < 0 {
			m.red[x] = false
			return x
		}
		xpp := m.parent[xp]
		if !m.red[xp] || xpp < 0 {
			return root
		}
		if xppl := m.left[xpp]; xp == xppl {
			if xppr := m.right[xpp]; xppr >= 0 && m.red[xppr] {
				m.red[xppr] = false
				m.red[xp] = false
				m.red[xpp] = true
				x = xpp
				continue
			}
			if x == m.right[xp] {
				x = xp
				root = m.rotateLeft(root, x)
				xp = m.parent[x]
				xpp = -1
				if xp >= 0 {
					xpp = m.parent[xp]
				}
			}
			if xp >= 0 {
				m.red[xp] = false
				if xpp >= 0 {
					m.red[xpp] = true
					root = m.rotateRight(root, xpp)
				}
			}
		} else {
			if xppl >= 0 && m.red[xppl] {
				m.red[xppl] = false
				m.red[xp] = false
				m.red[xpp] = true
				x = xpp
				continue
			}
			if x == m.left[xp] {
				x = xp
				root = m.rotateRight(root, x)
				xp = m.parent[x]
				xpp = -1
				if xp >= 0 {
					xpp = m.parent[xp]
				}
			}
			if xp >= 0 {
				m.red[xp] = false
				if xpp >= 0 {
					m.red[xpp] = true
					root = m.rotateLeft(root, xpp)
				}
			}
		}
	}
}

// Order appends the key indices in iteration order.
func (m *Map) Order(dst []int32) []int32 {
	for _, b := range m.table {
		for k := b.head; k >= 0; k = m.next[k] {
			dst = append(dst, k)
		}
	}
	return dst
}

// PutOrder is the iteration order of a HashMap(initialCapacity) (or new
// HashMap() for initialCapacity < 0) after putting keys 0..n-1 in order.
// Keys must be distinct.
func PutOrder(keys Keys, n, initialCapacity int, dst []int32) []int32 {
	var m Map
	return m.PutOrder(keys, n, initialCapacity, dst)
}

// PutOrder is the package's PutOrder in m's reused memory.
func (m *Map) PutOrder(keys Keys, n, initialCapacity int, dst []int32) []int32 {
	if n <= 1 {
		for i := range n {
			dst = append(dst, int32(i))
		}
		return dst
	}
	m.Reset(keys, n, initialCapacity)
	for i := range n {
		m.Put(int32(i))
	}
	return m.Order(dst)
}

// MergeOrder is the iteration order of a new HashMap() after merging keys
// 0..n-1 in order (what Collectors.toMap with a merge function builds).
// Keys must be distinct.
func (m *Map) MergeOrder(keys Keys, n int, dst []int32) []int32 {
	if n <= 1 {
		for i := range n {
			dst = append(dst, int32(i))
		}
		return dst
	}
	m.Reset(keys, n, -1)
	for i := range n {
		m.Merge(int32(i))
	}
	return m.Order(dst)
}
