package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestStatsCountsAndAverages(t *testing.T) {
	s := NewStats(MetricLabels{}, nil)
	before := time.Now().UnixMilli()
	s.IncReceived()
	s.IncReceived()
	s.IncReceived()
	s.RecordSuccess(10 * time.Millisecond)
	s.RecordSuccess(30 * time.Millisecond)
	s.RecordUserException(errors.New("record 3: bad payload"))
	s.RecordSystemException(errors.New("ack failed"))
	s.RecordSourceException(errors.New("consumer closed"))
	s.RecordSinkException(errors.New("PutRecords throttled"))
	s.RecordSinkException(errors.New("PutRecords throttled again"))
	s.RecordUserMetric("batch_size", 4)
	s.RecordUserMetric("batch_size", 8)
	after := time.Now().UnixMilli()

	snap := s.Snapshot()
	want := StatsSnapshot{
		Received: 3, Succeeded: 2, UserExceptions: 1, SystemExceptions: 1, SourceExceptions: 1, SinkExceptions: 2,
		Received1Min: 3, Succeeded1Min: 2, UserExceptions1Min: 1, SystemExceptions1Min: 1,
		AvgLatencyMs: 20, AvgLatencyMs1Min: 20,
	}
	got := snap
	got.LastInvocationMs = 0
	got.LatestUserExceptions, got.LatestSystemExceptions, got.LatestSourceExceptions, got.LatestSinkExceptions = nil, nil, nil, nil
	got.UserMetrics = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot counters:\n got %+v\nwant %+v", got, want)
	}
	if snap.LastInvocationMs < before || snap.LastInvocationMs > after {
		t.Errorf("LastInvocationMs = %d, want within [%d, %d] (milliseconds)", snap.LastInvocationMs, before, after)
	}
	checkExceptions(t, "user", snap.LatestUserExceptions, before, after, "record 3: bad payload")
	checkExceptions(t, "system", snap.LatestSystemExceptions, before, after, "ack failed")
	checkExceptions(t, "source", snap.LatestSourceExceptions, before, after, "consumer closed")
	checkExceptions(t, "sink", snap.LatestSinkExceptions, before, after, "PutRecords throttled", "PutRecords throttled again")
	if len(snap.UserMetrics) != 1 || snap.UserMetrics["batch_size"] != 6 {
		t.Errorf("UserMetrics = %v, want map[batch_size:6]", snap.UserMetrics)
	}
}

func checkExceptions(t *testing.T, kind string, got []ExceptionInfo, fromMs, toMs int64, msgs ...string) {
	t.Helper()
	if len(got) != len(msgs) {
		t.Fatalf("%s exceptions: got %d (%v), want %d", kind, len(got), got, len(msgs))
	}
	for i, e := range got {
		if e.Message != msgs[i] {
			t.Errorf("%s exception %d = %q, want %q", kind, i, e.Message, msgs[i])
		}
		if e.MsSinceEpoch < fromMs || e.MsSinceEpoch > toMs {
			t.Errorf("%s exception %d at %d, want within [%d, %d] ms since epoch", kind, i, e.MsSinceEpoch, fromMs, toMs)
		}
	}
}

func TestStatsOneMinuteWindow(t *testing.T) {
	s := NewStats(MetricLabels{}, nil)
	for range 4 {
		s.IncReceived()
	}
	s.RecordSuccess(2 * time.Millisecond)
	s.RecordUserException(errors.New("x"))
	s.RecordSystemException(errors.New("y"))

	ended := s.SnapshotAndResetOneMinute()
	if ended.Received1Min != 4 || ended.Succeeded1Min != 1 || ended.UserExceptions1Min != 1 ||
		ended.SystemExceptions1Min != 1 || ended.AvgLatencyMs1Min != 2 {
		t.Fatalf("ended window = %+v, want 4 received, 1 success, 1 user, 1 system, 2 ms", ended)
	}
	now := s.Snapshot()
	if now.Received1Min != 0 || now.Succeeded1Min != 0 || now.UserExceptions1Min != 0 ||
		now.SystemExceptions1Min != 0 || now.AvgLatencyMs1Min != 0 {
		t.Fatalf("after reset the window is %+v, want all _1min zero", now)
	}
	if now.Received != 4 || now.Succeeded != 1 || now.AvgLatencyMs != 2 || len(now.LatestUserExceptions) != 1 {
		t.Fatalf("reset touched lifetime values: %+v", now)
	}

	s.IncReceived()
	s.RecordSuccess(6 * time.Millisecond)
	if got := s.Snapshot(); got.Received1Min != 1 || got.AvgLatencyMs1Min != 6 || got.AvgLatencyMs != 4 {
		t.Fatalf("new window = %+v, want 1 received at 6 ms (lifetime avg 4 ms)", got)
	}
	s.ResetOneMinute()
	if got := s.Snapshot(); got.Received1Min != 0 || got.Succeeded1Min != 0 || got.Received != 5 {
		t.Fatalf("after ResetOneMinute: %+v", got)
	}
}

func TestStatsKeepsLatestTenExceptionsOldestFirst(t *testing.T) {
	s := NewStats(MetricLabels{}, nil)
	for i := range 13 {
		s.RecordUserException(fmt.Errorf("failure %d", i))
	}
	got := s.Snapshot().LatestUserExceptions
	if len(got) != 10 {
		t.Fatalf("kept %d exceptions, want 10", len(got))
	}
	for i, e := range got {
		if want := fmt.Sprintf("failure %d", i+3); e.Message != want {
			t.Errorf("exception %d = %q, want %q", i, e.Message, want)
		}
	}
	if s.Snapshot().UserExceptions != 13 {
		t.Errorf("UserExceptions = %d, want 13", s.Snapshot().UserExceptions)
	}
}

func TestStatsCleansExceptionText(t *testing.T) {
	s := NewStats(MetricLabels{}, nil)
	s.RecordUserException(errors.New("bad \xff byte"))
	s.RecordUserException(errors.New(strings.Repeat("é", 1000))) // 2000 bytes
	s.RecordUserException(nil)
	got := s.Snapshot().LatestUserExceptions
	if got[0].Message != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8 kept as %q", got[0].Message)
	}
	if m := got[1].Message; len(m) > maxExceptionBytes || !utf8.ValidString(m) || len(m) < maxExceptionBytes-1 {
		t.Errorf("long message cut to %d bytes (valid UTF-8 %v), want <= %d on a rune boundary", len(m), utf8.ValidString(m), maxExceptionBytes)
	}
	if got[2].Message != "unknown error" {
		t.Errorf("nil error recorded as %q", got[2].Message)
	}
}

func TestStatsConcurrentUse(t *testing.T) {
	s := NewStats(MetricLabels{}, nil)
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				s.IncReceived()
				s.RecordSuccess(time.Millisecond)
				s.RecordUserMetric("m", 1)
				if i%100 == 0 {
					s.RecordUserException(fmt.Errorf("w%d i%d", w, i))
				}
			}
		}()
	}
	// Readers and resets race with the writers; lifetime totals must
	// still come out exact.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				s.Snapshot()
				s.SnapshotAndResetOneMinute()
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()

	snap := s.Snapshot()
	n := int64(workers * each)
	if snap.Received != n || snap.Succeeded != n || snap.UserExceptions != workers*each/100 {
		t.Fatalf("totals %d/%d/%d, want %d/%d/%d", snap.Received, snap.Succeeded, snap.UserExceptions, n, n, workers*each/100)
	}
	if snap.AvgLatencyMs != 1 || snap.UserMetrics["m"] != 1 {
		t.Fatalf("avg latency %v, user metric %v, want 1 and 1", snap.AvgLatencyMs, snap.UserMetrics["m"])
	}
}

func TestStatsHotPathDoesNotAllocate(t *testing.T) {
	s := NewStats(MetricLabels{}, nil)
	s.RecordUserMetric("records_per_batch", 1) // first use of a name allocates once
	allocs := testing.AllocsPerRun(1000, func() {
		s.IncReceived()
		s.RecordSuccess(3 * time.Millisecond)
		s.RecordUserMetric("records_per_batch", 2)
	})
	if allocs != 0 {
		t.Fatalf("success path allocates %v times per record, want 0", allocs)
	}
}

func TestMetricLabelsFor(t *testing.T) {
	cfg := &InstanceConfig{Tenant: "acme", Namespace: "ingest", Name: "to-kinesis", FuncID: "f-123", ClusterName: "c1", InstanceID: 2}
	got := MetricLabelsFor(cfg)
	want := MetricLabels{Tenant: "acme", Namespace: "acme/ingest", Name: "to-kinesis", InstanceID: "f-123", Cluster: "c1", FQFN: "acme/ingest/to-kinesis"}
	if got != want {
		t.Fatalf("MetricLabelsFor = %+v, want %+v", got, want)
	}
}
