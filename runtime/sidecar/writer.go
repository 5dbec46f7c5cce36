package sidecar

import (
	"bufio"
	"context"
	"io"
	"sync"
)

// writer sends frames to the Java side from one goroutine: results come
// from the producer's callbacks on many goroutines, and a frame must not be
// interleaved with another. It flushes whenever it has nothing more queued,
// so that a burst of acks costs one write, and a lone ack is not held back.
type writer struct {
	ch   chan []byte
	done chan struct{}
	once sync.Once
	mu   sync.RWMutex // held for reading by send, for writing by close
	shut bool
	err  error // the first write error; later frames are dropped
}

func newWriter(w io.Writer) *writer {
	wr := &writer{ch: make(chan []byte, 4096), done: make(chan struct{})}
	go wr.run(bufio.NewWriterSize(w, 64<<10))
	return wr
}

func (w *writer) run(bw *bufio.Writer) {
	defer close(w.done)
	for f := range w.ch {
		if w.err == nil {
			_, w.err = bw.Write(f)
		}
		if len(w.ch) == 0 && w.err == nil {
			w.err = bw.Flush()
		}
	}
	if w.err == nil {
		w.err = bw.Flush()
	}
}

// send queues a frame, waiting while the queue is full (the Java side
// reads as fast as it can; a full queue means it is busy, and the results
// must not be dropped). After close it does nothing.
func (w *writer) send(f []byte) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.shut {
		w.ch <- f
	}
}

// close writes what is queued and stops.
func (w *writer) close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.shut = true
		close(w.ch)
		w.mu.Unlock()
		<-w.done
	})
}

// queue holds decoded frames between the reading goroutine and the loop,
// bounded in records and bytes of RECORD and UNREADABLE frames (the other
// frames are few and small) by the Java side's window. A frame larger than
// the whole bound fits when the queue holds no record, as the Java side
// sends it alone.
type queue struct {
	mu         sync.Mutex
	items      []item
	records    int
	bytes      int64
	maxRecords int
	maxBytes   int64
	ready      chan struct{} // has a value while items is not empty
}

// newQueue bounds the queue; a bound of 0 is the Java side's default
// window (20,000 records, 128 MiB).
func newQueue(maxRecords int, maxBytes int64) *queue {
	if maxRecords <= 0 {
		maxRecords = 20_000
	}
	if maxBytes <= 0 {
		maxBytes = 128 << 20
	}
	return &queue{maxRecords: maxRecords, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

func counted(it item) bool { return it.typ == frameRecord || it.typ == frameUnreadable }

// fits says whether a record would stay within the bound; any other frame
// fits.
func (q *queue) fits(it item) bool {
	if !counted(it) {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.records == 0 || q.records < q.maxRecords && q.bytes+it.size <= q.maxBytes
}

// push queues an item; read checks fits first (only read pushes).
func (q *queue) push(it item) {
	q.mu.Lock()
	if counted(it) {
		q.records++
		q.bytes += it.size
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	signal(q.ready)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// pop waits for the next item; false when ctx ended first.
func (q *queue) pop(ctx context.Context) (item, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = item{}
			q.items = q.items[1:]
			if counted(it) {
				q.records--
				q.bytes -= it.size
			}
			if len(q.items) > 0 {
				signal(q.ready)
			}
			q.mu.Unlock()
			return it, true
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return item{}, false
		}
	}
}

// size is what the queue holds.
func (q *queue) size() (records int, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.records, q.bytes
}
