package expand

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// PROTOBUF_NATIVE values. The Java sink has no conversion for this schema
// type (it throws UnsupportedOperationException), so this mapping is ours,
// chosen to read like the Avro one:
//
//   - a message is an object with its fields in declaration order, under
//     their .proto names;
//   - a field without presence (proto3 scalar, repeated, map) always appears,
//     with its default when unset; a field with presence (message, oneof
//     member, optional, proto2 scalar) that is unset is null;
//   - 32- and 64-bit integers are JSON numbers (signed or unsigned as
//     declared), float and double use Java's Float/Double.toString, bool is
//     a boolean, string text, bytes base64, an enum its value name (or its
//     number when the name is unknown);
//   - repeated fields are arrays; maps are objects whose keys (integers and
//     booleans as text) are sorted ascending, since there is no Java order
//     to copy;
//   - well-known types (Timestamp, Any, wrappers…) are plain messages;
//   - unknown fields are ignored.
//
// The schema definition is Pulsar's ProtobufNativeSchemaData JSON:
// {"fileDescriptorSet": base64 FileDescriptorSet, "rootMessageTypeName":
// full message name, "rootFileDescriptorName": file name}.
type protoCodec struct {
	md protoreflect.MessageDescriptor
}

type protobufNativeData struct {
	FileDescriptorSet      string `json:"fileDescriptorSet"`
	RootMessageTypeName    string `json:"rootMessageTypeName"`
	RootFileDescriptorName string `json:"rootFileDescriptorName"`
}

func compileProtobufNative(def []byte) (codec, error) {
	var d protobufNativeData
	if err := json.Unmarshal(def, &d); err != nil {
		return nil, fmt.Errorf("definition is not ProtobufNativeSchemaData JSON: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(d.FileDescriptorSet)
	if err != nil {
		return nil, fmt.Errorf("fileDescriptorSet is not base64: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("fileDescriptorSet does not parse: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("fileDescriptorSet is inconsistent: %w", err)
	}
	desc, err := files.FindDescriptorByName(protoreflect.FullName(d.RootMessageTypeName))
	if err != nil {
		return nil, fmt.Errorf("rootMessageTypeName %q: %w", d.RootMessageTypeName, err)
	}
	md, ok := desc.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("rootMessageTypeName %q is not a message", d.RootMessageTypeName)
	}
	return &protoCodec{md: md}, nil
}

func (c *protoCodec) emit(e *emitter, _ *Encoder, _ *record.Data, b []byte) error {
	m := dynamicpb.NewMessage(c.md)
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return err
	}
	emitProtoMessage(e, m)
	return e.err
}

func emitProtoMessage(e *emitter, m protoreflect.Message) {
	e.beginObject()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		e.name(string(fd.Name()))
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			e.beginArray()
			for j := range l.Len() {
				if e.err != nil {
					return
				}
				e.elem()
				emitProtoValue(e, fd, l.Get(j))
			}
			e.endArray()
		case fd.IsMap():
			emitProtoMap(e, fd, m.Get(fd).Map())
		case fd.HasPresence() && !m.Has(fd):
			e.null()
		default:
			emitProtoValue(e, fd, m.Get(fd))
		}
		if e.err != nil {
			return
		}
	}
	e.endObject()
}

func emitProtoMap(e *emitter, fd protoreflect.FieldDescriptor, mp protoreflect.Map) {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return compareMapKeys(fd.MapKey().Kind(), a, b) })
	e.beginObject()
	for _, k := range keys {
		e.name(k.String())
		emitProtoValue(e, fd.MapValue(), mp.Get(k))
	}
	e.endObject()
}

func compareMapKeys(kind protoreflect.Kind, a, b protoreflect.MapKey) int {
	switch kind {
	case protoreflect.BoolKind:
		ab, bb := a.Bool(), b.Bool()
		switch {
		case ab == bb:
			return 0
		case !ab:
			return -1
		}
		return 1
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return cmp.Compare(a.Int(), b.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return cmp.Compare(a.Uint(), b.Uint())
	}
	return cmp.Compare(a.String(), b.String())
}

func emitProtoValue(e *emitter, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		e.boolean(v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		e.int64(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		e.uint64(v.Uint())
	case protoreflect.FloatKind:
		e.double(v.Float(), 32)
	case protoreflect.DoubleKind:
		e.double(v.Float(), 64)
	case protoreflect.StringKind:
		// proto2 strings may hold any bytes; decode them as Java would.
		e.textBytes([]byte(v.String()))
	case protoreflect.BytesKind:
		e.binary(v.Bytes())
	case protoreflect.EnumKind:
		n := v.Enum()
		if ev := fd.Enum().Values().ByNumber(n); ev != nil {
			e.text(string(ev.Name()))
		} else {
			e.int64(int64(n))
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		emitProtoMessage(e, v.Message())
	default:
		e.fail(errors.New("unknown protobuf field kind " + fd.Kind().String()))
	}
}
