package kinesisfake

import (
	"math/big"
	"math/bits"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// maxHash is 2^128-1, the top of the hash key space.
var maxHash = kpl.Hash{Hi: ^uint64(0), Lo: ^uint64(0)}

func hashPlusOne(h kpl.Hash) kpl.Hash {
	lo, carry := bits.Add64(h.Lo, 1, 0)
	return kpl.Hash{Hi: h.Hi + carry, Lo: lo}
}

func hashMinusOne(h kpl.Hash) kpl.Hash {
	lo, borrow := bits.Sub64(h.Lo, 1, 0)
	return kpl.Hash{Hi: h.Hi - borrow, Lo: lo}
}

func hashFromBig(b *big.Int) kpl.Hash {
	var lo, hi big.Int
	lo.And(b, new(big.Int).SetUint64(^uint64(0)))
	hi.Rsh(b, 64)
	return kpl.Hash{Hi: hi.Uint64(), Lo: lo.Uint64()}
}

func hashToBig(h kpl.Hash) *big.Int {
	b := new(big.Int).SetUint64(h.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(h.Lo))
}

// evenRanges splits the hash key space as CreateStream does: shard i of n
// starts at i*floor(2^128/n), and the last shard takes the remainder up to
// 2^128-1.
func evenRanges(n int) [][2]kpl.Hash {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([][2]kpl.Hash, n)
	for i := range n {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := maxHash
		if i < n-1 {
			end = hashMinusOne(hashFromBig(new(big.Int).Add(start, step)))
		}
		out[i] = [2]kpl.Hash{hashFromBig(start), end}
	}
	return out
}

// midpoint is the NewStartingHashKey that splits [start, end] in two
// halves, as the console's "split evenly" does.
func midpoint(start, end kpl.Hash) kpl.Hash {
	s := hashToBig(start)
	sum := new(big.Int).Add(s, hashToBig(end))
	return hashPlusOne(hashFromBig(sum.Rsh(sum, 1)))
}
