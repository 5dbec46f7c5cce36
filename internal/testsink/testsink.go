// Package testsink is a sink that appends every record to a file. It lets
// the runtime's end-to-end tests check exactly-once delivery, redelivery and
// shutdown against a real broker and worker without involving Kinesis, so a
// runtime failure is not confused with a sink failure.
package testsink

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
)

// Line is one record as written to the output file.
type Line struct {
	Topic           string            `json:"topic"`
	Partition       int               `json:"partition"`
	ID              string            `json:"id"`
	Key             string            `json:"key,omitempty"`
	Payload         string            `json:"payload"`
	Properties      map[string]string `json:"properties,omitempty"`
	RedeliveryCount uint32            `json:"redeliveryCount"`
	SchemaType      string            `json:"schemaType,omitempty"`
}

// Sink writes records to the file named by userConfig "path". A record whose
// payload contains userConfig "failContains" is failed while its redelivery
// count is below userConfig "failTimes" (default 1), to test redelivery.
type Sink struct {
	mu           sync.Mutex
	f            *os.File
	w            *bufio.Writer
	failContains string
	failTimes    uint32
	wantSchema   bool
}

func (s *Sink) NeedsSchema() bool { return s.wantSchema }

func (s *Sink) Open(_ context.Context, sc *runtime.SinkContext) error {
	path, _ := sc.UserConfig["path"].(string)
	if path == "" {
		return errors.New(`sink config: "path": required`)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.f, s.w = f, bufio.NewWriter(f)
	s.failContains, _ = sc.UserConfig["failContains"].(string)
	s.failTimes = 1
	if n, ok := sc.UserConfig["failTimes"].(float64); ok {
		s.failTimes = uint32(n)
	}
	if v, ok := sc.UserConfig["schema"].(bool); ok {
		s.wantSchema = v
	}
	return nil
}

func (s *Sink) Write(_ context.Context, r *runtime.Record) error {
	if s.failContains != "" && strings.Contains(string(r.Payload), s.failContains) && r.RedeliveryCount < s.failTimes {
		r.Fail(fmt.Errorf("test sink: payload contains %q (delivery %d)", s.failContains, r.RedeliveryCount))
		return nil
	}
	l := Line{Topic: r.Topic, Partition: r.Partition, ID: r.MessageID.String(), Key: r.Key,
		Payload: string(r.Payload), Properties: r.Properties, RedeliveryCount: r.RedeliveryCount}
	if r.Schema != nil {
		l.SchemaType = string(r.Schema.Type)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.w.Write(b)
	s.w.WriteByte('\n')
	// Flush before ack: an acked record must be on disk for the test to
	// count it, even if the process is killed right after.
	err = s.w.Flush()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	r.Ack()
	return nil
}

func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	s.w.Flush()
	return s.f.Close()
}

// ReadLines parses an output file.
func ReadLines(path string) ([]Line, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Line
	for _, ln := range strings.Split(string(b), "\n") {
		if ln == "" {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(ln), &l); err != nil {
			return nil, fmt.Errorf("bad line %q: %w", ln, err)
		}
		out = append(out, l)
	}
	return out, nil
}
