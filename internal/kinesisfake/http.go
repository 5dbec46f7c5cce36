package kinesisfake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// targetPrefix starts the X-Amz-Target of every Kinesis operation.
const targetPrefix = "Kinesis_20131202."

// maxBody bounds a request body: a 10 MiB PutRecords request is about
// 14 MiB of JSON.
const maxBody = 32 << 20

// Handler serves the model over HTTP with the Kinesis JSON 1.1 protocol
// (POST /, X-Amz-Target Kinesis_20131202.<Op>), for clients in another
// process or a real SDK client: PutRecords, ListShards,
// DescribeStreamSummary, DescribeStream, CreateStream, DeleteStream,
// SplitShard, MergeShards, GetShardIterator, GetRecords. Signatures are not
// checked. Faults that reset or refuse the connection abort the response
// (the client sees the connection closed), as no handler can refuse a
// connection already accepted.
func (m *Model) Handler() http.Handler { return &handler{m: m} }

type handler struct{ m *Model }

type operation func(ctx context.Context, m *Model, body []byte) (any, *call, error)

func op[In, Out any](f func(*Model, context.Context, *In) (*Out, *call, error)) operation {
	return func(ctx context.Context, m *Model, body []byte) (any, *call, error) {
		in := new(In)
		if err := decode(body, in); err != nil {
			return nil, nil, err
		}
		return callOp(ctx, m, f, in)
	}
}

func callOp[In, Out any](ctx context.Context, m *Model, f func(*Model, context.Context, *In) (*Out, *call, error), in *In) (any, *call, error) {
	out, c, err := f(m, ctx, in)
	if err != nil {
		return nil, c, err
	}
	return out, c, nil
}

var operations = map[string]operation{
	"PutRecords":            op((*Model).putRecords),
	"DescribeStreamSummary": op((*Model).describeStreamSummary),
	"DescribeStream":        op((*Model).describeStream),
	"CreateStream":          op((*Model).createStream),
	"DeleteStream":          op((*Model).deleteStream),
	"SplitShard":            op((*Model).splitShard),
	"MergeShards":           op((*Model).mergeShards),
	"GetRecords":            op((*Model).getRecords),
	"ListShards": func(ctx context.Context, m *Model, body []byte) (any, *call, error) {
		var w struct {
			kinesis.ListShardsInput
			StreamCreationTimestamp *epoch
			ShardFilter             *struct {
				Type      types.ShardFilterType
				ShardId   *string
				Timestamp *epoch
			}
		}
		if err := decode(body, &w); err != nil {
			return nil, nil, err
		}
		in := w.ListShardsInput
		in.StreamCreationTimestamp = w.StreamCreationTimestamp.time()
		if f := w.ShardFilter; f != nil {
			in.ShardFilter = &types.ShardFilter{Type: f.Type, ShardId: f.ShardId, Timestamp: f.Timestamp.time()}
		}
		return callOp(ctx, m, (*Model).listShards, &in)
	},
	"GetShardIterator": func(ctx context.Context, m *Model, body []byte) (any, *call, error) {
		var w struct {
			kinesis.GetShardIteratorInput
			Timestamp *epoch
		}
		if err := decode(body, &w); err != nil {
			return nil, nil, err
		}
		in := w.GetShardIteratorInput
		in.Timestamp = w.Timestamp.time()
		return callOp(ctx, m, (*Model).getShardIterator, &in)
	},
}

// epoch is a timestamp as the JSON protocol writes it: seconds since the
// epoch, with a fraction.
type epoch float64

func (e *epoch) time() *time.Time {
	if e == nil {
		return nil
	}
	t := time.UnixMicro(int64(float64(*e) * 1e6))
	return &t
}

func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return apiErr(CodeSerialization, "%s", err.Error())
	}
	return nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	f := operations[name]
	if r.Method != http.MethodPost || f == nil {
		writeError(w, "", apiErr(CodeUnknownOperation, "%s", ""))
		return
	}
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "cbor") {
		writeError(w, "", apiErr(CodeSerialization, "the model speaks JSON 1.1 only, not %s", ct))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
		return
	}
	out, c, err := f(r.Context(), h.m, body)
	id := ""
	if c != nil {
		id = c.id
	}
	var ae *APIError
	var te *transportError
	switch {
	case errors.As(err, &ae):
		writeError(w, id, ae)
	case errors.As(err, &te), err != nil:
		// Reset, refused, or the client gave up (its context ended): no
		// answer, the connection is closed.
		panic(http.ErrAbortHandler)
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Requestid", id)
		b, _ := json.Marshal(shape(reflect.ValueOf(out)))
		w.Write(b)
	}
}

func writeError(w http.ResponseWriter, id string, e *APIError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", id)
	w.Header().Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.HTTPStatus())
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Write(b)
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	metadataName = "ResultMetadata"
)

// shape turns an SDK output value into what the JSON protocol writes: its
// exported members by name, nil and empty enum members left out,
// timestamps as epoch seconds and blobs as base64.
func shape(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return shape(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			t := v.Interface().(time.Time)
			return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', -1, 64))
		}
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == metadataName {
				continue
			}
			fv := v.Field(i)
			if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.IsNil() {
				continue
			}
			if fv.Kind() == reflect.String && fv.Len() == 0 {
				continue
			}
			out[f.Name] = shape(fv)
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = shape(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[k.String()] = shape(v.MapIndex(k))
		}
		return out
	case reflect.String:
		return v.String()
	}
	return v.Interface()
}
