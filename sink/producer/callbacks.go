package producer

// Watching the callbacks: they are the caller's code, run on the
// producer's goroutines, and one that blocks holds its goroutine (a
// sender, or the dispatcher for expired records) for as long as it does.
// The producer cannot end such a wait; it says so in the log, while it
// lasts, so that a stall can be traced to the callback.

import (
	"log/slog"
	"sync"
	"time"
)

const (
	// slowCallbacks is how long one goroutine's callbacks for a batch may
	// run before a warning: seconds, where the sink's take microseconds.
	slowCallbacks = 2 * time.Second
	// slowCallbacksEvery spaces the warnings of one producer: when the
	// sink's ack blocks, every sender blocks in it.
	slowCallbacksEvery = 30 * time.Second
	// slowCallbacksRecheck caps the interval between checks of callbacks
	// that keep running; the interval doubles from slowCallbacks.
	slowCallbacksRecheck = time.Minute
)

// callbackWatch times the callbacks one goroutine runs. begin and end are
// called by that goroutine; check runs on a timer while callbacks run.
type callbackWatch struct {
	p     *Producer
	who   string // "sender" or "dispatcher"
	timer *time.Timer

	mu     sync.Mutex
	stream string
	start  time.Time // zero while no callbacks run
	warned bool      // a warning named this run
}

func (p *Producer) newCallbackWatch(who string) *callbackWatch {
	w := &callbackWatch{p: p, who: who}
	w.timer = time.AfterFunc(time.Hour, w.check)
	w.timer.Stop()
	return w
}

func (w *callbackWatch) begin(stream string) {
	w.mu.Lock()
	w.stream, w.start, w.warned = stream, time.Now(), false
	w.mu.Unlock()
	w.p.inCallbacks.Add(1)
	w.timer.Reset(slowCallbacks)
}

func (w *callbackWatch) end() {
	w.timer.Stop()
	w.p.inCallbacks.Add(-1)
	w.mu.Lock()
	d, stream, warned := time.Since(w.start), w.stream, w.warned
	w.start = time.Time{}
	w.mu.Unlock()
	// A run that was warned about is always closed in the log, so that the
	// warning is not read as a callback that never returned.
	if warned || d >= slowCallbacks && w.p.mayWarnSlow() {
		w.p.opts.Logger.Warn("kinesis producer: slow callbacks returned; their goroutine sent nothing else while they ran",
			slog.String("stream", stream), slog.String("goroutine", w.who), slog.Duration("took", d.Round(time.Millisecond)))
	}
}

// check runs on the timer: it warns about callbacks still running, and
// looks again later while they go on.
func (w *callbackWatch) check() {
	w.mu.Lock()
	if w.start.IsZero() {
		w.mu.Unlock()
		return
	}
	d := time.Since(w.start)
	if d < slowCallbacks {
		// A late timer of an earlier run found a new one.
		w.mu.Unlock()
		w.timer.Reset(slowCallbacks - d)
		return
	}
	stream := w.stream
	warn := w.p.mayWarnSlow()
	if warn {
		w.warned = true
	}
	w.mu.Unlock()
	if warn {
		w.p.opts.Logger.Warn("kinesis producer: callbacks have not returned; their goroutine sends nothing else until they do",
			slog.String("stream", stream), slog.String("goroutine", w.who), slog.Duration("for", d.Round(time.Millisecond)),
			slog.Int64("goroutinesInCallbacks", int64(w.p.inCallbacks.Load())), slog.Int("senders", w.p.opts.MaxInFlight))
	}
	w.timer.Reset(min(d, slowCallbacksRecheck))
}

// mayWarnSlow says whether a warning about slow callbacks may be logged
// now, at most one per slowCallbacksEvery.
func (p *Producer) mayWarnSlow() bool {
	now := time.Now().UnixNano()
	last := p.slowWarnAt.Load()
	if last != 0 && now-last < int64(slowCallbacksEvery) {
		return false
	}
	return p.slowWarnAt.CompareAndSwap(last, now)
}
