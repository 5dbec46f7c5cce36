package format

import (
	flatbuffers "github.com/google/flatbuffers/go"

	fbs "github.com/pulsar-kinesis/kinesis-sink/flatbuf/kinesisfbs"
	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// FULL_MESSAGE_IN_FB: a Message table of flatbuf/kinesis_message.fbs.
//
// Filling rules, from the Java sink:
//   - payload: the message payload (an empty vector when there is none);
//   - properties: only when the message has some;
//   - encryptionCtx: only for an encrypted message; then batchSize is the
//     batch size, or 1 for a message that is not a batch, isBatchMessage is
//     whether a batch size is present, and compression types other than
//     LZ4 and ZLIB are written as NONE;
//   - a key's metadata vector only when the key has metadata.
//
// FlatBuffers readers navigate by vtable, so any valid layout would read
// the same. We still replay the Java sink's exact sequence of builder calls
// (what it creates first, the order in which it adds fields, and that Java
// and Go builders place bytes by the same algorithm) so the blob is
// identical byte for byte, which makes Go and Java output directly
// comparable (testdata/javaref checks it against the Java runtime).
//
// The Java sink shares one static builder between calls, which is not
// thread-safe; each Encode here takes its own builder from a pool.
type fbEncoder struct{ pool scratchPool }

func newFBEncoder() *fbEncoder { return &fbEncoder{} }

// fbInitialSize is the starting buffer of a new pooled builder; it grows as
// needed and the pool keeps the grown buffer.
const fbInitialSize = 1024

func (e *fbEncoder) Encode(dst []byte, r *record.Data) ([]byte, error) {
	if r == nil {
		return dst, errNilRecord
	}
	s := e.pool.get()
	defer e.pool.put(s)
	if s.b == nil {
		s.b = flatbuffers.NewBuilder(fbInitialSize)
	} else {
		s.b.Reset()
	}
	b := s.b

	var props flatbuffers.UOffsetT
	if len(r.Properties) > 0 {
		s.offs = s.offs[:0]
		for _, p := range s.orderedProps(r.Properties) {
			s.offs = append(s.offs, keyValue(b, p.key, p.val))
		}
		props = offsetVector(b, s.offs)
	}

	var encCtx flatbuffers.UOffsetT
	if r.Encryption != nil {
		encCtx = encryptionCtx(b, s, r.Encryption)
	}

	payload := b.CreateByteVector(r.Payload)
	fbs.MessageStart(b)
	fbs.MessageAddPayload(b, payload)
	if encCtx != 0 {
		fbs.MessageAddEncryptionCtx(b, encCtx)
	}
	if props != 0 {
		fbs.MessageAddProperties(b, props)
	}
	b.Finish(fbs.MessageEnd(b))
	return append(dst, b.FinishedBytes()...), nil
}

func encryptionCtx(b *flatbuffers.Builder, s *scratch, enc *record.EncryptionContext) flatbuffers.UOffsetT {
	s.keyOffs = s.keyOffs[:0]
	for _, k := range s.orderedKeys(enc.Keys) {
		name := b.CreateString(k.key)
		value := b.CreateByteVector(k.val.Value)
		var meta flatbuffers.UOffsetT
		if len(k.val.Metadata) > 0 {
			s.offs = s.offs[:0]
			for _, m := range s.orderedMeta(k.val.Metadata) {
				s.offs = append(s.offs, keyValue(b, m.key, m.val))
			}
			meta = offsetVector(b, s.offs)
		}
		fbs.EncryptionKeyStart(b)
		fbs.EncryptionKeyAddKey(b, name)
		fbs.EncryptionKeyAddValue(b, value)
		if meta != 0 {
			fbs.EncryptionKeyAddMetadata(b, meta)
		}
		s.keyOffs = append(s.keyOffs, fbs.EncryptionKeyEnd(b))
	}
	keys := offsetVector(b, s.keyOffs)
	param := b.CreateByteVector(enc.Param)
	algo := b.CreateString(sanitizeUTF8(enc.Algorithm))

	batchSize := int32(1)
	if enc.HasBatchSize {
		batchSize = javaInt(enc.BatchSize)
	}
	var compression fbs.CompressionType
	switch enc.CompressionType {
	case "LZ4":
		compression = fbs.CompressionTypeLZ4
	case "ZLIB":
		compression = fbs.CompressionTypeZLIB
	default:
		compression = fbs.CompressionTypeNONE
	}
	// Field order of the Java generated createEncryptionCtx: 4-byte fields
	// (last declared first), then 1-byte fields.
	fbs.EncryptionCtxStart(b)
	fbs.EncryptionCtxAddBatchSize(b, batchSize)
	fbs.EncryptionCtxAddUncompressedMessageSize(b, javaInt(enc.UncompressedSize))
	fbs.EncryptionCtxAddAlgo(b, algo)
	fbs.EncryptionCtxAddParam(b, param)
	fbs.EncryptionCtxAddKeys(b, keys)
	fbs.EncryptionCtxAddIsBatchMessage(b, enc.HasBatchSize)
	fbs.EncryptionCtxAddCompressionType(b, compression)
	return fbs.EncryptionCtxEnd(b)
}

// keyValue writes a KeyValue table: key string, value string, then the
// table with value added before key (the Java generated createKeyValue).
func keyValue(b *flatbuffers.Builder, key, val string) flatbuffers.UOffsetT {
	k := b.CreateString(key) // already sanitised by the ordering step
	v := b.CreateString(sanitizeUTF8(val))
	fbs.KeyValueStart(b)
	fbs.KeyValueAddValue(b, v)
	fbs.KeyValueAddKey(b, k)
	return fbs.KeyValueEnd(b)
}

// offsetVector writes a vector of table offsets, first element first.
func offsetVector(b *flatbuffers.Builder, offs []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	b.StartVector(flatbuffers.SizeUOffsetT, len(offs), flatbuffers.SizeUOffsetT)
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	return b.EndVector(len(offs))
}
