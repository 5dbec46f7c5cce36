package kpl

import (
	"bytes"
	"testing"
)

// FuzzAggregateRoundTrip splits the fuzzer's input into user records (keys
// and data drawn from it), aggregates them, and checks that the Sizer
// predicted the exact size and that Deaggregate gives back the same
// records. It also feeds the raw input to Deaggregate, which must never
// panic on arbitrary bytes.
func FuzzAggregateRoundTrip(f *testing.F) {
	f.Add([]byte("k1|v1|k2|v2|k1||"), uint8(3))
	f.Add([]byte{}, uint8(0))
	f.Add(append([]byte(Magic), 0x0a, 1, 'k'), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, ehkEvery uint8) {
		_, _ = Deaggregate(in)
		_ = IsAggregated(in)

		parts := bytes.Split(in, []byte("|"))
		var recs []rec
		for i := 0; i+1 < len(parts); i += 2 {
			pk := string(parts[i])
			if pk == "" {
				pk = "empty"
			}
			r := rec{pk: pk, data: parts[i+1]}
			if ehkEvery > 0 && (i/2)%int(ehkEvery) == 0 {
				r.ehk = PartitionKeyHash(pk).String()
			}
			recs = append(recs, r)
		}
		var a Aggregator
		out := build(t, &a, recs)
		checkRoundTrip(t, recs, out)
	})
}
