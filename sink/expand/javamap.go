package expand

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The Java sink writes three kinds of java.util.HashMap, and Jackson writes a
// map in its iteration order, so byte parity needs that order:
//
//   - Avro map values (GenericDatumReader builds a HashMap sized by the first
//     block's item count, keys are org.apache.avro.util.Utf8 unless the map
//     schema says "avro.java.string":"String");
//   - the record properties (JsonRecord.addProperty puts into a default
//     HashMap, iterating the message's own properties map, which Pulsar builds
//     with a three-argument Collectors.toMap, i.e. HashMap.merge);
//   - the KEY_VALUE payload {"key":…, "value":…}.
//
// HashMap iterates buckets in index order and each bucket along its chain.
// A chain reaching 8 or 9 nodes (merge or put) either grows a table smaller
// than 64 buckets or becomes a red-black tree whose chain order is changed by
// every insert (the root moves to the front, a new node is linked behind its
// tree parent). That case needs colliding keys, but it can be provoked with
// crafted keys, so it is simulated too: the order stays exact for any input.
//
// The simulation below is written from the documented behaviour of
// java.util.HashMap (Java 8 and later; unchanged through Java 25).

const (
	hmDefaultCapacity   = 16
	hmTreeifyThreshold  = 8
	hmUntreeifyLimit    = 6
	hmMinTreeifyBuckets = 64
	hmMaxCapacity       = 1 << 30
)

// javaKeySet describes the keys of one simulated map: their Java hashCode()
// and their compareTo order (only consulted inside tree bins).
type javaKeySet interface {
	hashCode(i int) int32
	compare(i, j int) int
}

// javaStringKeys are java.lang.String keys given as Go strings.
type javaStringKeys []string

func (k javaStringKeys) hashCode(i int) int32 { return javaStringHash(k[i]) }
func (k javaStringKeys) compare(i, j int) int { return compareUTF16(k[i], k[j]) }

// avroUTF8Keys are org.apache.avro.util.Utf8 keys: hashed and compared over
// their raw bytes, which may not even be valid UTF-8.
type avroUTF8Keys [][]byte

func (k avroUTF8Keys) hashCode(i int) int32 {
	var h int32
	for _, b := range k[i] {
		h = 31*h + int32(int8(b))
	}
	return h
}

func (k avroUTF8Keys) compare(i, j int) int {
	a, b := k[i], k[j]
	for n := 0; n < len(a) && n < len(b); n++ {
		if a[n] != b[n] {
			return int(a[n]) - int(b[n])
		}
	}
	return len(a) - len(b)
}

// javaStringHash is String.hashCode(): over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + int32(hi)
			h = 31*h + int32(lo)
			continue
		}
		if r == utf8.RuneError {
			// A Go string from this package is always valid UTF-8, so this is
			// a real U+FFFD.
			r = 0xFFFD
		}
		h = 31*h + int32(r)
	}
	return h
}

// compareUTF16 is String.compareTo: lexicographic over UTF-16 code units,
// which differs from code point order for supplementary characters.
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

// hmBin is one bucket: a doubly linked chain through javaHashMap.next/prev.
type hmBin struct {
	head, tail int32 // -1 when empty
	n          int32
	tree       bool
}

// javaHashMap simulates the bucket structure of a java.util.HashMap holding
// distinct keys, inserted by put (tail insertion, grow after the insert) or
// by merge (head insertion, grow before the insert).
type javaHashMap struct {
	keys       javaKeySet
	hashes     []int32 // spread hash per key index
	table      []hmBin
	threshold  int
	size       int
	next, prev []int32 // chain links per key index
	// Tree links per key index, valid while the key sits in a tree bin.
	left, right, parent []int32
	red                 []bool
}

// newJavaHashMap starts an empty map; initialCapacity < 0 means new
// HashMap() (16 buckets on first insert), otherwise new HashMap(n).
func newJavaHashMap(keys javaKeySet, n int, initialCapacity int) *javaHashMap {
	m := &javaHashMap{keys: keys, hashes: make([]int32, n), next: make([]int32, n), prev: make([]int32, n)}
	for i := range n {
		h := keys.hashCode(i)
		m.hashes[i] = h ^ int32(uint32(h)>>16)
	}
	if initialCapacity >= 0 {
		m.threshold = tableSizeFor(initialCapacity)
	}
	return m
}

func tableSizeFor(c int) int {
	n := 1
	for n < c && n < hmMaxCapacity {
		n <<= 1
	}
	return n
}

func newTable(n int) []hmBin {
	t := make([]hmBin, n)
	for i := range t {
		t[i].head, t[i].tail = -1, -1
	}
	return t
}

func (m *javaHashMap) appendTail(b *hmBin, k int32) {
	m.next[k], m.prev[k] = -1, b.tail
	if b.tail >= 0 {
		m.next[b.tail] = k
	} else {
		b.head = k
	}
	b.tail = k
	b.n++
}

func (m *javaHashMap) pushHead(b *hmBin, k int32) {
	m.prev[k], m.next[k] = -1, b.head
	if b.head >= 0 {
		m.prev[b.head] = k
	} else {
		b.tail = k
	}
	b.head = k
	b.n++
}

func (m *javaHashMap) insertAfter(b *hmBin, xp, x int32) {
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
func (m *javaHashMap) moveToFront(b *hmBin, r int32) {
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

func (m *javaHashMap) bucket(k int32, n int) int { return int(m.hashes[k]) & (n - 1) }

func (m *javaHashMap) put(k int32) {
	if m.table == nil {
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

func (m *javaHashMap) merge(k int32) {
	if m.table == nil || m.size > m.threshold {
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

func (m *javaHashMap) resize() {
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
	newTab := newTable(newCap)
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
	m.table = newTab
}

func (m *javaHashMap) treeifyBin(i int) {
	if len(m.table) < hmMinTreeifyBuckets {
		m.resize()
		return
	}
	b := &m.table[i]
	b.tree = true
	m.treeify(b)
}

func (m *javaHashMap) ensureTreeLinks() {
	if m.left == nil {
		n := len(m.hashes)
		m.left = make([]int32, n)
		m.right = make([]int32, n)
		m.parent = make([]int32, n)
		m.red = make([]bool, n)
	}
}

// dir orders key x against tree node p: hash first, then compareTo.
func (m *javaHashMap) dir(x, p int32) int {
	hx, hp := m.hashes[x], m.hashes[p]
	switch {
	case hp > hx:
		return -1
	case hp < hx:
		return 1
	}
	if c := m.keys.compare(int(x), int(p)); c != 0 {
		return c
	}
	// Only distinct keys are inserted, and String and Utf8 order distinct
	// keys, so Java's identity-hash tie break is never reached.
	return -1
}

// treeify builds the red-black tree from the chain order and moves its root
// to the front of the chain.
func (m *javaHashMap) treeify(b *hmBin) {
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
func (m *javaHashMap) attach(root, x int32) int32 {
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

func (m *javaHashMap) putTreeVal(b *hmBin, x int32) {
	root := b.head
	m.left[x], m.right[x] = -1, -1
	xp := m.attach(root, x)
	// The new node is linked into the chain right behind its tree parent.
	m.insertAfter(b, xp, x)
	m.moveToFront(b, m.balanceInsertion(root, x))
}

func (m *javaHashMap) rotateLeft(root, p int32) int32 {
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

func (m *javaHashMap) rotateRight(root, p int32) int32 {
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
func (m *javaHashMap) balanceInsertion(root, x int32) int32 {
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

// order appends the key indices in iteration order.
func (m *javaHashMap) order(dst []int32) []int32 {
	for _, b := range m.table {
		for k := b.head; k >= 0; k = m.next[k] {
			dst = append(dst, k)
		}
	}
	return dst
}

// javaPutOrder is the iteration order of a HashMap(initialCapacity) (or
// new HashMap() for initialCapacity < 0) after putting keys 0..n-1 in order.
// Keys must be distinct.
func javaPutOrder(keys javaKeySet, n, initialCapacity int, dst []int32) []int32 {
	if n <= 1 {
		for i := range n {
			dst = append(dst, int32(i))
		}
		return dst
	}
	m := newJavaHashMap(keys, n, initialCapacity)
	for i := range n {
		m.put(int32(i))
	}
	return m.order(dst)
}

// javaPropertiesOrder is the order in which the Java sink writes record
// properties: Pulsar collects the wire list into a HashMap with merge, and
// JsonRecord.addProperty re-puts that map's entries into a new HashMap.
// keys are in wire order and distinct.
func javaPropertiesOrder(keys javaStringKeys) []int32 {
	n := len(keys)
	if n <= 1 {
		return javaPutOrder(keys, n, -1, nil)
	}
	first := newJavaHashMap(keys, n, -1)
	for i := range n {
		first.merge(int32(i))
	}
	mid := first.order(make([]int32, 0, n))
	// Re-put in the first map's iteration order.
	reordered := make(javaStringKeys, n)
	for i, k := range mid {
		reordered[i] = keys[k]
	}
	final := javaPutOrder(reordered, n, -1, make([]int32, 0, n))
	for i, k := range final {
		final[i] = mid[k]
	}
	return final
}
