// Package kpl writes and reads the KPL aggregated record format, in which
// one Kinesis record carries many user records, each with its own partition
// key and optional explicit hash key:
//
//	[magic F3 89 9A C2][AggregatedRecord protobuf][MD5 of the protobuf]
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4; // never written
//	}
//
// The protobuf is encoded by hand (protowire): the schema is tiny and
// fixed, and hand encoding lets the aggregator append into reusable buffers
// and know the exact encoded size before a record is added, which the
// producer needs to fill aggregates up to a size limit without ever
// passing it.
//
// Consumers (KCL, Lambda's Kinesis integration with the KPL de-aggregation
// libraries, aws-kinesis-agg) drop a sub-record whose hash key lies outside
// the hash-key range of the shard the aggregate was stored on. Which
// records may share an aggregate is therefore the producer's business
// (same predicted shard, or same key); this package only encodes.
package kpl

import (
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Magic starts every aggregated record.
const Magic = "\xF3\x89\x9A\xC2"

// Overhead is what an aggregated record adds around its protobuf: the magic
// and the MD5 trailer.
const Overhead = len(Magic) + md5.Size

// Field numbers; all below 16, so every tag is one byte.
const (
	fieldPKTable  = 1
	fieldEHKTable = 2
	fieldRecords  = 3

	fieldRecPK   = 1
	fieldRecEHK  = 2
	fieldRecData = 3
)

// Sizer does the size accounting of one aggregate without encoding it: the
// producer uses it while cutting a request, under its lock, and encodes
// later. Aggregator embeds it, so the encoded size always equals what the
// Sizer predicted. The zero value is ready to use.
//
// Partition keys and explicit hash keys are deduplicated in their tables
// (the maps hold the caller's strings, no copies).
type Sizer struct {
	pks, ehks map[string]uint64
	n         int
	protoLen  int
}

// Reset empties the aggregate, keeping its maps' memory.
func (s *Sizer) Reset() {
	clear(s.pks)
	clear(s.ehks)
	s.n, s.protoLen = 0, 0
}

// Count is the number of user records added.
func (s *Sizer) Count() int { return s.n }

// Size is the length of the encoded aggregated record (magic, protobuf and
// MD5), i.e. the Kinesis record's data. Kinesis counts the outer partition
// key on top of it against the record size limit.
func (s *Sizer) Size() int { return Overhead + s.protoLen }

// SizeWith is Size after adding a record with these keys and dataLen bytes
// of data; it changes nothing.
func (s *Sizer) SizeWith(pk, ehk string, dataLen int) int {
	return Overhead + s.protoLen + s.delta(pk, ehk, dataLen)
}

// Add accounts for a record and returns the indexes of its keys in the
// tables (ehkIdx is meaningless when ehk is "").
func (s *Sizer) Add(pk, ehk string, dataLen int) (pkIdx, ehkIdx uint64, newPK, newEHK bool) {
	s.protoLen += s.delta(pk, ehk, dataLen)
	if s.pks == nil {
		s.pks = make(map[string]uint64)
	}
	pkIdx, ok := s.pks[pk]
	if !ok {
		pkIdx = uint64(len(s.pks))
		s.pks[pk] = pkIdx
		newPK = true
	}
	if ehk != "" {
		if s.ehks == nil {
			s.ehks = make(map[string]uint64)
		}
		if ehkIdx, ok = s.ehks[ehk]; !ok {
			ehkIdx = uint64(len(s.ehks))
			s.ehks[ehk] = ehkIdx
			newEHK = true
		}
	}
	s.n++
	return pkIdx, ehkIdx, newPK, newEHK
}

// delta is how many protobuf bytes a record adds: a table entry for each
// key not seen yet, and the Record message itself.
func (s *Sizer) delta(pk, ehk string, dataLen int) int {
	d := 0
	pkIdx, ok := s.pks[pk]
	if !ok {
		pkIdx = uint64(len(s.pks))
		d += 1 + protowire.SizeBytes(len(pk))
	}
	msg := 1 + protowire.SizeVarint(pkIdx) + 1 + protowire.SizeBytes(dataLen)
	if ehk != "" {
		ehkIdx, ok := s.ehks[ehk]
		if !ok {
			ehkIdx = uint64(len(s.ehks))
			d += 1 + protowire.SizeBytes(len(ehk))
		}
		msg += 1 + protowire.SizeVarint(ehkIdx)
	}
	return d + 1 + protowire.SizeBytes(msg)
}

// SingleSize is the size of an aggregate holding only this record: what it
// takes at least to aggregate it.
func SingleSize(pk, ehk string, dataLen int) int {
	var s Sizer
	return s.SizeWith(pk, ehk, dataLen)
}

// Aggregator builds one aggregated record at a time into buffers it keeps
// between aggregates, so that encoding allocates nothing per user record
// once the buffers have grown. The zero value is ready to use; it is not
// safe for concurrent use.
type Aggregator struct {
	Sizer
	pkTab, ehkTab, recs []byte
}

// Reset starts a new aggregate.
func (a *Aggregator) Reset() {
	a.Sizer.Reset()
	a.pkTab, a.ehkTab, a.recs = a.pkTab[:0], a.ehkTab[:0], a.recs[:0]
}

// Add appends a user record. pk must not be empty; ehk is "" when the
// record has no explicit hash key. The caller checks sizes with SizeWith
// beforehand; Add itself never refuses.
func (a *Aggregator) Add(pk, ehk string, data []byte) {
	pkIdx, ehkIdx, newPK, newEHK := a.Sizer.Add(pk, ehk, len(data))
	if newPK {
		a.pkTab = protowire.AppendTag(a.pkTab, fieldPKTable, protowire.BytesType)
		a.pkTab = protowire.AppendString(a.pkTab, pk)
	}
	if newEHK {
		a.ehkTab = protowire.AppendTag(a.ehkTab, fieldEHKTable, protowire.BytesType)
		a.ehkTab = protowire.AppendString(a.ehkTab, ehk)
	}
	msg := 1 + protowire.SizeVarint(pkIdx) + 1 + protowire.SizeBytes(len(data))
	if ehk != "" {
		msg += 1 + protowire.SizeVarint(ehkIdx)
	}
	r := a.recs
	r = protowire.AppendTag(r, fieldRecords, protowire.BytesType)
	r = protowire.AppendVarint(r, uint64(msg))
	r = protowire.AppendTag(r, fieldRecPK, protowire.VarintType)
	r = protowire.AppendVarint(r, pkIdx)
	if ehk != "" {
		r = protowire.AppendTag(r, fieldRecEHK, protowire.VarintType)
		r = protowire.AppendVarint(r, ehkIdx)
	}
	r = protowire.AppendTag(r, fieldRecData, protowire.BytesType)
	r = protowire.AppendBytes(r, data)
	a.recs = r
}

// AppendTo appends the aggregated record (exactly Size bytes) to dst. The
// tables come first, in index order, as the format requires.
func (a *Aggregator) AppendTo(dst []byte) []byte {
	dst = append(dst, Magic...)
	start := len(dst)
	dst = append(dst, a.pkTab...)
	dst = append(dst, a.ehkTab...)
	dst = append(dst, a.recs...)
	sum := md5.Sum(dst[start:])
	return append(dst, sum[:]...)
}

// Record is a user record read from an aggregated record.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string // "" when the record had none
	Data            []byte // aliases the aggregated record's bytes
}

// ErrNotAggregated says the data is not an aggregated record (no magic, too
// short, or an MD5 mismatch): consumers then take it as a plain record, as
// the KCL does.
var ErrNotAggregated = errors.New("kpl: not an aggregated record")

// IsAggregated says whether data is an aggregated record: magic, room for
// the MD5, and a matching MD5.
func IsAggregated(data []byte) bool {
	if len(data) < Overhead || string(data[:len(Magic)]) != Magic {
		return false
	}
	proto := data[len(Magic) : len(data)-md5.Size]
	sum := md5.Sum(proto)
	return string(sum[:]) == string(data[len(data)-md5.Size:])
}

// Deaggregate returns the user records of an aggregated record, in order.
// It returns ErrNotAggregated when data is not one, and a descriptive error
// when the protobuf is malformed (bad wire data, a missing required field,
// a key index outside its table).
func Deaggregate(data []byte) ([]Record, error) {
	if !IsAggregated(data) {
		return nil, ErrNotAggregated
	}
	b := data[len(Magic) : len(data)-md5.Size]
	var pks, ehks []string
	type raw struct {
		pk, ehk uint64
		hasEHK  bool
		data    []byte
	}
	var raws []raw
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("kpl: AggregatedRecord: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num >= fieldPKTable && num <= fieldRecords && typ != protowire.BytesType {
			return nil, fmt.Errorf("kpl: AggregatedRecord field %d has wire type %d, want bytes", num, typ)
		}
		switch num {
		case fieldPKTable, fieldEHKTable:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("kpl: AggregatedRecord field %d: %w", num, protowire.ParseError(n))
			}
			if num == fieldPKTable {
				pks = append(pks, string(v))
			} else {
				ehks = append(ehks, string(v))
			}
			b = b[n:]
		case fieldRecords:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("kpl: record %d: %w", len(raws), protowire.ParseError(n))
			}
			b = b[n:]
			var r raw
			var hasPK, hasData bool
			for len(v) > 0 {
				num, typ, n := protowire.ConsumeTag(v)
				if n < 0 {
					return nil, fmt.Errorf("kpl: record %d: %w", len(raws), protowire.ParseError(n))
				}
				v = v[n:]
				switch {
				case (num == fieldRecPK || num == fieldRecEHK) && typ == protowire.VarintType:
					x, n := protowire.ConsumeVarint(v)
					if n < 0 {
						return nil, fmt.Errorf("kpl: record %d field %d: %w", len(raws), num, protowire.ParseError(n))
					}
					v = v[n:]
					if num == fieldRecPK {
						r.pk, hasPK = x, true
					} else {
						r.ehk, r.hasEHK = x, true
					}
				case num == fieldRecData && typ == protowire.BytesType:
					x, n := protowire.ConsumeBytes(v)
					if n < 0 {
						return nil, fmt.Errorf("kpl: record %d data: %w", len(raws), protowire.ParseError(n))
					}
					v = v[n:]
					r.data, hasData = x, true
				case num == fieldRecPK || num == fieldRecEHK || num == fieldRecData:
					return nil, fmt.Errorf("kpl: record %d field %d has wire type %d", len(raws), num, typ)
				default: // tags and unknown fields are skipped
					n := protowire.ConsumeFieldValue(num, typ, v)
					if n < 0 {
						return nil, fmt.Errorf("kpl: record %d field %d: %w", len(raws), num, protowire.ParseError(n))
					}
					v = v[n:]
				}
			}
			if !hasPK || !hasData {
				return nil, fmt.Errorf("kpl: record %d lacks its required partition_key_index or data", len(raws))
			}
			raws = append(raws, r)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("kpl: AggregatedRecord field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	out := make([]Record, len(raws))
	for i, r := range raws {
		if r.pk >= uint64(len(pks)) {
			return nil, fmt.Errorf("kpl: record %d: partition_key_index %d outside the table of %d", i, r.pk, len(pks))
		}
		out[i] = Record{PartitionKey: pks[r.pk], Data: r.data}
		if r.hasEHK {
			if r.ehk >= uint64(len(ehks)) {
				return nil, fmt.Errorf("kpl: record %d: explicit_hash_key_index %d outside the table of %d", i, r.ehk, len(ehks))
			}
			out[i].ExplicitHashKey = ehks[r.ehk]
		}
	}
	return out, nil
}
