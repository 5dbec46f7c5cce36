package kpl

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Hash is a Kinesis hash key, an unsigned 128-bit integer: the MD5 of a
// partition key read big-endian, or an explicit hash key. A shard owns a
// contiguous range of them.
type Hash struct{ Hi, Lo uint64 }

// PartitionKeyHash is the hash key Kinesis derives from a partition key.
func PartitionKeyHash(pk string) Hash {
	sum := md5.Sum([]byte(pk))
	return Hash{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// ParseHash reads a decimal hash key in [0, 2^128-1].
func ParseHash(s string) (Hash, error) {
	if s == "" {
		return Hash{}, fmt.Errorf("kpl: empty hash key")
	}
	var h Hash
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Hash{}, fmt.Errorf("kpl: hash key %q is not a decimal integer", s)
		}
		// h = h*10 + digit, failing on overflow past 2^128-1.
		hiCarry, lo := bits.Mul64(h.Lo, 10)
		hiOver, hi := bits.Mul64(h.Hi, 10)
		hi, c1 := bits.Add64(hi, hiCarry, 0)
		lo, c2 := bits.Add64(lo, uint64(c-'0'), 0)
		hi, c3 := bits.Add64(hi, 0, c2)
		if hiOver != 0 || c1 != 0 || c3 != 0 {
			return Hash{}, fmt.Errorf("kpl: hash key %q is above 2^128-1", s)
		}
		h = Hash{hi, lo}
	}
	return h, nil
}

// RecordHash is the hash key that routes a record: its explicit hash key
// when it has one, else the hash of its partition key.
func RecordHash(pk, ehk string) (Hash, error) {
	if ehk != "" {
		return ParseHash(ehk)
	}
	return PartitionKeyHash(pk), nil
}

// Cmp compares h and o: -1, 0 or +1.
func (h Hash) Cmp(o Hash) int {
	switch {
	case h.Hi < o.Hi || h.Hi == o.Hi && h.Lo < o.Lo:
		return -1
	case h == o:
		return 0
	}
	return 1
}

// String is the decimal form, as Kinesis writes hash keys.
func (h Hash) String() string {
	if h.Hi == 0 {
		return fmt.Sprint(h.Lo)
	}
	var buf [40]byte
	i := len(buf)
	for h != (Hash{}) {
		// Divide the 128-bit value by 10, high word first.
		qHi, r := bits.Div64(0, h.Hi, 10)
		qLo, r := bits.Div64(r, h.Lo, 10)
		i--
		buf[i] = byte('0' + r)
		h = Hash{qHi, qLo}
	}
	return string(buf[i:])
}
