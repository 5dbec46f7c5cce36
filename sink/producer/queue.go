package producer

// The producer's queues: a ring of records per key or shard and the retry
// heap ordered by due time.

// retryHeap orders backing-off records by their next attempt time.
type retryHeap []*record

func (h retryHeap) Len() int { return len(h) }

func (h retryHeap) Less(i, j int) bool { return h[i].notBefore.Before(h[j].notBefore) }

func (h retryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *retryHeap) Push(x any) { *h = append(*h, x.(*record)) }

func (h *retryHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

// ring is a FIFO of records on a power-of-two circular buffer, so that a
// queue that fills and drains all day does not keep reallocating.
type ring struct {
	buf     []*record
	head, n int
}

func (q *ring) len() int { return q.n }

func (q *ring) push(r *record) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = r
	q.n++
}

func (q *ring) peek() *record { return q.buf[q.head] }

func (q *ring) pop() *record {
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > 4096 {
			q.buf = nil // give a burst's memory back
		}
	}
	return r
}

func (q *ring) grow() {
	size := max(8, 2*len(q.buf))
	buf := make([]*record, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = buf, 0
}
