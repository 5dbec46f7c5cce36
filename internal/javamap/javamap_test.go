package javamap

import (
	"fmt"
	"slices"
	"testing"
)

// A reused Map must order keys exactly as a fresh one: Reset keeps buffers,
// never state. Sizes cross the resize thresholds, and the colliding set
// (keys in one bucket of 64) builds tree bins.
func TestReusedMapMatchesFresh(t *testing.T) {
	var sets []StringKeys
	for _, n := range []int{2, 7, 13, 49, 97, 3} {
		var ks StringKeys
		for i := range n {
			ks = append(ks, fmt.Sprintf("key-%d", i*7919))
		}
		sets = append(sets, ks)
	}
	var colliding StringKeys
	for i := 0; len(colliding) < 20; i++ {
		if k := fmt.Sprintf("c%d", i); Spread(StringHash(k))&63 == 9 {
			colliding = append(colliding, k)
		}
	}
	sets = append(sets, colliding, sets[0])

	var reused Map
	for _, ks := range sets {
		for _, merge := range []bool{false, true} {
			var fresh Map
			var want, got []int32
			if merge {
				want = fresh.MergeOrder(ks, len(ks), nil)
				got = reused.MergeOrder(&ks, len(ks), nil)
			} else {
				want = fresh.PutOrder(ks, len(ks), -1, nil)
				got = reused.PutOrder(&ks, len(ks), -1, nil)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d keys (merge %v): reused %v, fresh %v", len(ks), merge, got, want)
			}
			if s := slices.Clone(got); len(s) != len(ks) {
				t.Errorf("%d keys ordered, want %d", len(s), len(ks))
			}
		}
	}
}

func TestStringHashIsJavas(t *testing.T) {
	// Values of "...".hashCode() in Java.
	for s, want := range map[string]int32{"": 0, "a": 97, "hello": 99162322, "😀": 1772899, "\xff": 65533} {
		if got := StringHash(s); got != want {
			t.Errorf("StringHash(%q) = %d, want %d", s, got, want)
		}
	}
}
