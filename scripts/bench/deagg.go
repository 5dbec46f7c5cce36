package main

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// kplMagic starts every KPL aggregated record.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// deaggregate returns the user records' data of a KPL aggregated record:
// magic, protobuf AggregatedRecord (field 3: repeated Record, whose field 3
// is the data), MD5 of the protobuf bytes.
func deaggregate(b []byte) ([][]byte, error) {
	if len(b) < len(kplMagic)+md5.Size || !bytes.HasPrefix(b, kplMagic) {
		return nil, errors.New("not a KPL aggregated record")
	}
	pb := b[len(kplMagic) : len(b)-md5.Size]
	if sum := md5.Sum(pb); !bytes.Equal(sum[:], b[len(b)-md5.Size:]) {
		return nil, errors.New("MD5 trailer does not match")
	}
	var out [][]byte
	for len(pb) > 0 {
		num, typ, n := protowire.ConsumeTag(pb)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		pb = pb[n:]
		if num == 3 && typ == protowire.BytesType {
			rec, n := protowire.ConsumeBytes(pb)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			pb = pb[n:]
			data, err := recordData(rec)
			if err != nil {
				return nil, err
			}
			out = append(out, data)
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, pb)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		pb = pb[n:]
	}
	return out, nil
}

func recordData(rec []byte) ([]byte, error) {
	var data []byte
	found := false
	for len(rec) > 0 {
		num, typ, n := protowire.ConsumeTag(rec)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		rec = rec[n:]
		if num == 3 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(rec)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			data, found = v, true
			rec = rec[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, rec)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		rec = rec[n:]
	}
	if !found {
		return nil, fmt.Errorf("record without data")
	}
	return data, nil
}
