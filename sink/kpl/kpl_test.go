package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

type rec struct {
	pk, ehk string
	data    []byte
}

// build aggregates recs and checks, record by record, that the Sizer
// predicted the encoded size exactly.
func build(t testing.TB, a *Aggregator, recs []rec) []byte {
	t.Helper()
	a.Reset()
	for i, r := range recs {
		want := a.SizeWith(r.pk, r.ehk, len(r.data))
		a.Add(r.pk, r.ehk, r.data)
		if a.Size() != want {
			t.Fatalf("record %d: Size %d after Add, SizeWith said %d", i, a.Size(), want)
		}
		if got := len(a.AppendTo(nil)); got != want {
			t.Fatalf("record %d: encoded %d bytes, SizeWith said %d", i, got, want)
		}
	}
	return a.AppendTo(nil)
}

func checkRoundTrip(t testing.TB, recs []rec, out []byte) {
	t.Helper()
	got, err := Deaggregate(out)
	if err != nil {
		t.Fatalf("deaggregate: %v", err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records back, %d put", len(got), len(recs))
	}
	for i, r := range recs {
		g := got[i]
		if g.PartitionKey != r.pk || g.ExplicitHashKey != r.ehk || !bytes.Equal(g.Data, r.data) {
			t.Fatalf("record %d: got (%q, %q, %d bytes), want (%q, %q, %d bytes)", i,
				g.PartitionKey, g.ExplicitHashKey, len(g.Data), r.pk, r.ehk, len(r.data))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	var a Aggregator
	var recs []rec
	// Many keys (indexes past one varint byte), repeated keys, explicit hash
	// keys on some records, empty and large data.
	for i := 0; i < 300; i++ {
		r := rec{pk: fmt.Sprintf("key-%d", i%150), data: bytes.Repeat([]byte{byte(i)}, i*7%300)}
		if i%3 == 0 {
			r.ehk = fmt.Sprint(uint64(i) * 1e15)
		}
		recs = append(recs, r)
	}
	recs = append(recs, rec{pk: "big", data: bytes.Repeat([]byte("x"), 70000)}, rec{pk: "ü-ключ", data: nil})
	out := build(t, &a, recs)
	if !bytes.HasPrefix(out, []byte(Magic)) {
		t.Fatal("no magic")
	}
	sum := md5.Sum(out[4 : len(out)-16])
	if !bytes.Equal(sum[:], out[len(out)-16:]) {
		t.Fatal("MD5 trailer does not cover the protobuf")
	}
	checkRoundTrip(t, recs, out)

	// The buffers are reused: a second, smaller aggregate is independent.
	recs2 := []rec{{pk: "k", data: []byte("v")}, {pk: "k", data: []byte("w")}}
	checkRoundTrip(t, recs2, build(t, &a, recs2))
}

// TestTablesInIndexOrder checks the wire layout directly: tables first,
// each in index order, keys deduplicated.
func TestTablesInIndexOrder(t *testing.T) {
	var a Aggregator
	out := build(t, &a, []rec{{pk: "b", data: []byte("1")}, {pk: "a", ehk: "7", data: []byte("2")}, {pk: "b", ehk: "7", data: []byte("3")}})
	proto := out[4 : len(out)-16]
	want := []byte{
		0x0a, 1, 'b', 0x0a, 1, 'a', // partition_key_table: b=0, a=1
		0x12, 1, '7', // explicit_hash_key_table: 7=0
		0x1a, 5, 0x08, 0, 0x1a, 1, '1',
		0x1a, 7, 0x08, 1, 0x10, 0, 0x1a, 1, '2',
		0x1a, 7, 0x08, 0, 0x10, 0, 0x1a, 1, '3',
	}
	if !bytes.Equal(proto, want) {
		t.Fatalf("protobuf\n got % x\nwant % x", proto, want)
	}
}

// TestSizeAtLimit fills an aggregate to exactly a limit with the last
// record, and checks that one more data byte would pass it: the producer
// adds a record when SizeWith(...)+len(outer key) <= limit.
func TestSizeAtLimit(t *testing.T) {
	const outer = "a"
	for _, limit := range []int{200, 51200, 1 << 20} {
		var a Aggregator
		a.Reset()
		a.Add("k1", "", []byte("first"))
		// Find the data length that lands exactly on the limit; the length
		// prefix's varint size makes this non-linear around 128 and 16384.
		n := -1
		for d := 0; d < limit; d++ {
			if a.SizeWith("k2", "", d)+len(outer) == limit {
				n = d
				break
			}
		}
		if n < 0 {
			t.Fatalf("limit %d: no data length fits exactly", limit)
		}
		if a.SizeWith("k2", "", n+1)+len(outer) <= limit {
			t.Fatalf("limit %d: one byte more still fits", limit)
		}
		data := bytes.Repeat([]byte("z"), n)
		a.Add("k2", "", data)
		out := a.AppendTo(nil)
		if len(out)+len(outer) != limit {
			t.Fatalf("limit %d: aggregate + outer key is %d bytes", limit, len(out)+len(outer))
		}
		checkRoundTrip(t, []rec{{pk: "k1", data: []byte("first")}, {pk: "k2", data: data}}, out)
	}
}

func TestDeaggregateRejects(t *testing.T) {
	var a Aggregator
	good := build(t, &a, []rec{{pk: "k", data: []byte("v")}})
	if _, err := Deaggregate([]byte("plain record")); !errors.Is(err, ErrNotAggregated) {
		t.Errorf("plain: %v", err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	if _, err := Deaggregate(bad); !errors.Is(err, ErrNotAggregated) {
		t.Errorf("MD5 mismatch: %v", err)
	}
	// A record pointing past the key table, with a valid MD5.
	proto := []byte{0x0a, 1, 'k', 0x1a, 5, 0x08, 3, 0x1a, 1, 'v'}
	sum := md5.Sum(proto)
	blob := append(append([]byte(Magic), proto...), sum[:]...)
	if _, err := Deaggregate(blob); err == nil || !strings.Contains(err.Error(), "outside the table") {
		t.Errorf("bad index: %v", err)
	}
}

func TestHash(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", "170141183460469231731687303715884105728", max.String()} {
		h, err := ParseHash(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if h.String() != s {
			t.Errorf("%s: round trip gives %s", s, h.String())
		}
	}
	over := new(big.Int).Add(max, big.NewInt(1)).String()
	for _, s := range []string{over, "1a", "", "999999999999999999999999999999999999999999"} {
		if _, err := ParseHash(s); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
	// MD5 of the key, big-endian, as Kinesis routes it.
	sum := md5.Sum([]byte("hello"))
	want := new(big.Int).SetBytes(sum[:]).String()
	if got := PartitionKeyHash("hello").String(); got != want {
		t.Errorf("hash of hello: %s, want %s", got, want)
	}
	a, _ := ParseHash("5")
	b, _ := ParseHash("18446744073709551616")
	if a.Cmp(b) != -1 || b.Cmp(a) != 1 || a.Cmp(a) != 0 {
		t.Error("Cmp")
	}
}

func BenchmarkAggregate(b *testing.B) {
	var a Aggregator
	data := bytes.Repeat([]byte("d"), 100)
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.Reset()
		for j := 0; j < 400; j++ {
			a.Add(keys[j%len(keys)], "", data)
		}
		buf = a.AppendTo(buf[:0])
	}
}
