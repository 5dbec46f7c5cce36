package producer

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// syncBuffer is a log destination the watch's timer goroutine and the test
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns what was logged since the last call.
func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// Callbacks that keep their goroutine for seconds are named in the log
// while they still run (a callback that never returns would otherwise leave
// no trace), with their stream and how long; the warnings are spaced, and a
// warned run says when it returns. On a fake clock.
func TestSlowCallbacksWarned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log syncBuffer
		p := &Producer{opts: Options{MaxInFlight: 4, Logger: slog.New(slog.NewTextHandler(&log, nil))}}
		fast, slow, other := p.newCallbackWatch("sender"), p.newCallbackWatch("sender"), p.newCallbackWatch("dispatcher")

		fast.begin("quick")
		time.Sleep(slowCallbacks / 2)
		fast.end()
		synctest.Wait()
		if got := log.take(); got != "" {
			t.Fatalf("callbacks of %s logged: %s", slowCallbacks/2, got)
		}

		slow.begin("orders")
		time.Sleep(slowCallbacks + time.Millisecond)
		synctest.Wait()
		got := log.take()
		for _, want := range []string{"level=WARN", "callbacks have not returned", "stream=orders", "goroutine=sender", "for=2s", "goroutinesInCallbacks=1", "senders=4"} {
			if !strings.Contains(got, want) {
				t.Errorf("warning %q does not say %q", got, want)
			}
		}

		// A second blocked goroutine within the spacing is not logged on
		// its own, and neither are the rechecks of the first.
		other.begin("payments")
		time.Sleep(slowCallbacksEvery - 2*slowCallbacks)
		synctest.Wait()
		if got := log.take(); got != "" {
			t.Fatalf("logged again within %s: %s", slowCallbacksEvery, got)
		}
		// Past the spacing, the next check warns again.
		time.Sleep(slowCallbacksEvery)
		synctest.Wait()
		if got := log.take(); strings.Count(got, "callbacks have not returned") != 1 {
			t.Fatalf("want one more warning after %s, got: %s", slowCallbacksEvery, got)
		}

		slow.end()
		got = log.take()
		if !strings.Contains(got, "slow callbacks returned") || !strings.Contains(got, "stream=orders") || !strings.Contains(got, "took=") {
			t.Errorf("a warned run's return: %q", got)
		}
		other.end()
		synctest.Wait()
		log.take()
		if n := p.inCallbacks.Load(); n != 0 {
			t.Errorf("%d goroutines still counted in callbacks", n)
		}
	})
}
