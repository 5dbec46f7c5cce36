package faultsuite

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// userRecord is one record as the sink was given it, after de-aggregation.
type userRecord struct {
	partitionKey string
	data         []byte
}

// kplMagic starts every KPL aggregated record; an MD5 of the protobuf
// message follows it at the end.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// userRecords returns the user records a Kinesis record carries: itself, or
// the records of a KPL aggregated record (documented format: magic, an
// AggregatedRecord protobuf message with a partition key table (field 1), an
// explicit hash key table (2) and records (3) each holding a partition key
// index (1), an explicit hash key index (2) and data (3), then the MD5 of
// the message). Decoded here rather than with the sink's own aggregator so
// that a bug there cannot hide itself.
//
// The records are decoded twice, by the project's deaggregator (sink/kpl)
// and by the decoder below, written from the format description on its
// own, and the two must agree: a bug shared by the sink's aggregator and
// sink/kpl's reader cannot hide itself.
func userRecords(kr testenv.KinesisRecord) ([]userRecord, error) {
	own, err := decodeKPL(kr)
	if err != nil {
		return nil, err
	}
	if !kpl.IsAggregated(kr.Data) {
		if len(own) != 1 || !bytes.Equal(own[0].data, kr.Data) {
			return nil, errors.New("sink/kpl says not aggregated, the suite's decoder found sub-records")
		}
		return own, nil
	}
	recs, err := kpl.Deaggregate(kr.Data)
	if err != nil {
		return nil, fmt.Errorf("sink/kpl: %w", err)
	}
	if len(recs) != len(own) {
		return nil, fmt.Errorf("sink/kpl reads %d sub-records, the suite's decoder %d", len(recs), len(own))
	}
	for i, r := range recs {
		if r.PartitionKey != own[i].partitionKey || !bytes.Equal(r.Data, own[i].data) {
			return nil, fmt.Errorf("sub-record %d: sink/kpl and the suite's decoder disagree", i)
		}
	}
	return own, nil
}

func decodeKPL(kr testenv.KinesisRecord) ([]userRecord, error) {
	d := kr.Data
	if len(d) < len(kplMagic)+md5.Size || !bytes.HasPrefix(d, kplMagic) {
		return []userRecord{{partitionKey: kr.PartitionKey, data: d}}, nil
	}
	msg := d[len(kplMagic) : len(d)-md5.Size]
	sum := md5.Sum(msg)
	if !bytes.Equal(sum[:], d[len(d)-md5.Size:]) {
		// Not an aggregated record after all (the KPL does the same).
		return []userRecord{{partitionKey: kr.PartitionKey, data: d}}, nil
	}
	var pkTable []string
	type rec struct {
		pk   uint64
		data []byte
	}
	var recs []rec
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, fmt.Errorf("aggregated record: %w", protowire.ParseError(n))
		}
		msg = msg[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, fmt.Errorf("partition key table: %w", protowire.ParseError(n))
			}
			pkTable = append(pkTable, string(v))
			msg = msg[n:]
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, fmt.Errorf("record: %w", protowire.ParseError(n))
			}
			msg = msg[n:]
			var r rec
			hasData := false
			for len(v) > 0 {
				fn, ft, m := protowire.ConsumeTag(v)
				if m < 0 {
					return nil, fmt.Errorf("record: %w", protowire.ParseError(m))
				}
				v = v[m:]
				switch {
				case fn == 1 && ft == protowire.VarintType:
					x, m := protowire.ConsumeVarint(v)
					if m < 0 {
						return nil, fmt.Errorf("record key index: %w", protowire.ParseError(m))
					}
					r.pk, v = x, v[m:]
				case fn == 3 && ft == protowire.BytesType:
					x, m := protowire.ConsumeBytes(v)
					if m < 0 {
						return nil, fmt.Errorf("record data: %w", protowire.ParseError(m))
					}
					r.data, v, hasData = x, v[m:], true
				default:
					m := protowire.ConsumeFieldValue(fn, ft, v)
					if m < 0 {
						return nil, fmt.Errorf("record field %d: %w", fn, protowire.ParseError(m))
					}
					v = v[m:]
				}
			}
			if !hasData {
				return nil, errors.New("aggregated record: a record without data")
			}
			recs = append(recs, r)
		default:
			n := protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return nil, fmt.Errorf("aggregated record field %d: %w", num, protowire.ParseError(n))
			}
			msg = msg[n:]
		}
	}
	out := make([]userRecord, 0, len(recs))
	for _, r := range recs {
		if r.pk >= uint64(len(pkTable)) {
			return nil, fmt.Errorf("aggregated record: partition key index %d of %d", r.pk, len(pkTable))
		}
		out = append(out, userRecord{partitionKey: pkTable[r.pk], data: r.data})
	}
	return out, nil
}

// TestUserRecordsKPL builds an aggregated record by the documented format
// and checks that the read-back decodes it, and leaves other data alone.
func TestUserRecordsKPL(t *testing.T) {
	var msg []byte
	for _, pk := range []string{"key-a", "key-b"} {
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		msg = protowire.AppendString(msg, pk)
	}
	for i, r := range []struct {
		pk   uint64
		data string
	}{{0, "one"}, {1, "two"}, {0, "three"}} {
		var rec []byte
		rec = protowire.AppendTag(rec, 1, protowire.VarintType)
		rec = protowire.AppendVarint(rec, r.pk)
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendString(rec, r.data)
		if i == 1 { // an unknown field (tags) is skipped
			rec = protowire.AppendTag(rec, 4, protowire.BytesType)
			rec = protowire.AppendString(rec, "tag")
		}
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, rec)
	}
	sum := md5.Sum(msg)
	agg := append(append(append([]byte{}, kplMagic...), msg...), sum[:]...)
	got, err := userRecords(testenv.KinesisRecord{PartitionKey: "a", Data: agg})
	if err != nil {
		t.Fatal(err)
	}
	want := []userRecord{{"key-a", []byte("one")}, {"key-b", []byte("two")}, {"key-a", []byte("three")}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	agg[len(agg)-1] ^= 1 // a bad checksum: a plain record that happens to start with the magic
	got, err = userRecords(testenv.KinesisRecord{PartitionKey: "p", Data: agg})
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].data, agg) {
		t.Fatalf("bad checksum: got %v, %v", got, err)
	}
}

// TestUserRecordsFromSinkAggregator reads an aggregate written by the
// sink's own aggregator.
func TestUserRecordsFromSinkAggregator(t *testing.T) {
	var a kpl.Aggregator
	want := []userRecord{{"key-01", []byte("a")}, {"key-02", []byte("bb")}, {"key-01", []byte("ccc")}}
	for _, r := range want {
		a.Add(r.partitionKey, "", r.data)
	}
	got, err := userRecords(testenv.KinesisRecord{PartitionKey: "key-01", Data: a.AppendTo(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
