package producer

// Cutting batches: the dispatcher picks streams that are due, and a cut
// walks their records (cutSource: held, retried, fresh) into a batch, by
// the plain packer here (takeLocked) or the aggregated one (aggregate.go:
// takeAggLocked).

import (
	"container/heap"
	"time"
)

func (p *Producer) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

// dispatch is the single goroutine that decides what is sent and when:
// lingering, batch limits, MaxInFlight, retry timing and TTL expiry. It
// never calls Kinesis and never waits on a sender, so one slow request
// cannot hold up the others.
func (p *Producer) dispatch() {
	defer close(p.reqs)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var expired []*record
	var batches []*batch
	w := p.newCallbackWatch("dispatcher")
	for {
		p.mu.Lock()
		now := time.Now()
		expired, batches = p.planLocked(now, expired[:0], batches[:0])
		next := p.nextWakeLocked(now)
		exit := p.closing && p.bufRecords == 0
		p.mu.Unlock()

		for _, b := range batches {
			p.reqs <- b
		}
		clear(batches)
		if len(expired) > 0 {
			p.finish(w, expired)
			clear(expired)
			continue // releasing records may have made others sendable
		}
		if exit {
			return
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-p.wakeCh:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// planLocked moves due retries to their stream's priority queue, expires
// queued records past their TTL and cuts batches while senders are free.
func (p *Producer) planLocked(now time.Time, expired []*record, batches []*batch) ([]*record, []*batch) {
	if p.stopped {
		return p.drainLocked(expired), batches
	}
	for len(p.waiting) > 0 && !p.waiting[0].notBefore.After(now) {
		r := heap.Pop(&p.waiting).(*record)
		if !r.deadline.IsZero() && r.deadline.Before(r.st.pausedUntil) {
			p.expire(r) // its stream stays paused past its deadline
			expired = append(expired, r)
			continue
		}
		r.readyAt = r.notBefore
		r.st.prio.push(r)
	}
	if p.opts.RecordTTL > 0 {
		// fresh is in Put order, so its deadlines rise: only heads can be due.
		for _, st := range p.streamList {
			for st.fresh.len() > 0 && !st.fresh.peek().deadline.After(now) {
				r := st.popFresh()
				p.expire(r)
				expired = append(expired, r)
			}
		}
	}
	// Also when Put is blocked on a full buffer: lingering cannot fill the
	// requests any further.
	hurry := p.closing || len(p.flushers) > 0 || p.spaceCh != nil
	n := len(p.streamList)
	if p.needsMap() {
		for _, st := range p.streamList {
			if p.wantsMapLocked(st) {
				p.maybeLoadShardMapLocked(st, now)
			}
		}
	}
	for i := 0; i < n && p.roomForRequestLocked(); i++ {
		st := p.streamList[(p.rr+i)%n]
		for p.roomForRequestLocked() && p.sendableLocked(st, now, hurry) {
			var b *batch
			b, expired = p.takeLocked(st, now, expired)
			if st.heldCount > 0 || len(st.heldList) > 0 {
				st.pruneHeld()
			}
			if b == nil {
				// Everything went to held queues or expired: taking again
				// would find the same.
				break
			}
			for i := range b.ents {
				b.bytes += int64(b.ents[i].size)
			}
			batches = append(batches, b)
			p.inFlight++
			p.inFlightBytes += b.bytes
		}
	}
	if n > 0 {
		p.rr = (p.rr + 1) % n
	}
	return expired, batches
}

func (p *Producer) sendableLocked(st *streamState, now time.Time, hurry bool) bool {
	if st.paused(now) {
		return false
	}
	if st.heldCount > 0 && p.heldSendableLocked(st, now) {
		return true
	}
	// Retries linger again like fresh records (as in the KPL), so that
	// records whose jittered backoffs end close together share a request.
	if st.prio.len() > 0 && (hurry || st.prio.len()+st.fresh.len() >= p.fullCount() ||
		now.Sub(st.prio.peek().readyAt) >= p.opts.Linger) {
		return true
	}
	n := st.fresh.len()
	if n == 0 {
		return false
	}
	return hurry || n >= p.fullCount() || st.freshBytes >= p.opts.MaxBytesPerRequest ||
		now.Sub(st.fresh.peek().putAt) >= p.opts.Linger
}

// aggRequestsInFlight is how many aggregated requests the buffer should
// keep going at once (at most MaxInFlight); see fullCount.
const aggRequestsInFlight = 8

// fullCount is how many queued user records make a full request. Without
// aggregation, that is the entry limit. With it, records share entries and
// a request may carry far more user records than the buffer holds (5 MiB
// of 100-byte records is 50,000): cut only at MaxBytesPerRequest, one
// request would take the whole buffer, Put would block until it was
// answered, and requests would go one at a time (with 1 KiB records this
// made aggregation slower than none under make bench). So a request is
// full at a share of MaxBufferedRecords that lets aggRequestsInFlight of
// them fill the buffer, and never below the entry limit.
func (p *Producer) fullCount() int {
	if p.opts.Aggregation != AggregateNone {
		return max(p.opts.MaxRecordsPerRequest, p.opts.MaxBufferedRecords/min(p.opts.MaxInFlight, aggRequestsInFlight))
	}
	return p.opts.MaxRecordsPerRequest
}

// takeLocked cuts one batch: due retries and released successors first,
// then fresh records, up to the count and byte limits. A priority record
// past its TTL is expired here instead (the only place they are checked, so
// such a record resolves at most about one RequestTimeout late).
func (p *Producer) takeLocked(st *streamState, now time.Time, expired []*record) (*batch, []*record) {
	p.cutSeq++
	if p.opts.Aggregation != AggregateNone {
		return p.takeAggLocked(st, now, expired)
	}
	var recs []*record
	var shards []string // predicted shards, when limited
	bytes := 0
	var src cutSource
	for len(recs) < p.opts.MaxRecordsPerRequest {
		var r *record
		if r, expired = p.nextLiveLocked(st, &src, now, expired); r == nil {
			break
		}
		b := p.bucketLocked(st, r)
		if b != nil && src.from != fromHeld && (b.held.len() > 0 || !p.lim.affords(b, 1, r.size, now)) {
			p.holdLocked(st, b, p.popLocked(st, &src))
			continue
		}
		if len(recs) > 0 && bytes+r.size > p.opts.MaxBytesPerRequest {
			break
		}
		p.popLocked(st, &src)
		if recs == nil {
			recs = make([]*record, 0, min(p.opts.MaxRecordsPerRequest, st.heldCount+st.prio.len()+st.fresh.len()+1))
		}
		if b != nil {
			p.takeTokensLocked(b, 1, r.size, now)
			if shards == nil {
				shards = make([]string, len(recs), cap(recs))
			}
		}
		if shards != nil {
			id := ""
			if b != nil {
				id = b.shard
			}
			shards = append(shards, id)
		}
		recs = append(recs, r)
		bytes += r.size
	}
	if len(recs) == 0 {
		return nil, expired
	}
	ents := make([]kEntry, len(recs))
	for i, r := range recs {
		ents[i] = kEntry{recs: recs[i : i+1], pk: r.e.PartitionKey, ehk: r.e.ExplicitHashKey, size: r.size, data: r.e.Data}
		if shards != nil {
			ents[i].shard = shards[i]
		}
	}
	var m *shardMap
	if shards != nil {
		m = st.shardMap
	}
	return &batch{st: st, recs: recs, ents: ents, shardMap: m, cutAt: now}, expired
}

func (p *Producer) nextWakeLocked(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if len(p.waiting) > 0 {
		consider(p.waiting[0].notBefore)
	}
	for _, st := range p.streamList {
		// Held records count too: while paused they are not considered below,
		// and nothing else may come to wake us.
		if st.pausedUntil.After(now) && st.prio.len()+st.fresh.len()+st.heldCount > 0 {
			consider(st.pausedUntil)
		}
		if p.wantsMapLocked(st) && !st.mapLoading {
			consider(st.mapNextLoad)
		}
		if st.prio.len() > 0 && p.roomForRequestLocked() {
			consider(st.prio.peek().readyAt.Add(p.opts.Linger))
		}
		if st.heldCount > 0 && p.roomForRequestLocked() && !st.pausedUntil.After(now) {
			for _, b := range st.heldList {
				if b.held.len() > 0 {
					consider(p.lim.readyAt(b, now))
				}
			}
		}
		if st.fresh.len() == 0 {
			continue
		}
		r := st.fresh.peek()
		consider(r.deadline)
		if p.roomForRequestLocked() {
			// When every sender is busy, a completing one wakes us instead.
			consider(r.putAt.Add(p.opts.Linger))
		}
	}
	return next
}

// drainLocked fails with KindClosed every record that is not in flight:
// queued, backing off or parked behind a key.
func (p *Producer) drainLocked(expired []*record) []*record {
	closeRec := func(r *record) {
		r.final = &Error{Kind: KindClosed, Stream: r.st.name, Code: r.code, Message: r.msg, Attempts: r.attempts, Err: r.err}
		r.fate = fateFail
		expired = append(expired, r)
	}
	for _, st := range p.streamList {
		st.drain(closeRec)
	}
	for _, r := range p.waiting {
		closeRec(r)
	}
	clear(p.waiting)
	p.waiting = p.waiting[:0]
	p.keys.drain(closeRec)
	return expired
}

// Where a cut takes its next record from.
const (
	fromHeld = iota
	fromPrio
	fromFresh
)

// cutSource walks the records a cut may take, oldest claims first: heads of
// held queues whose shard can pay for them, then due retries and released
// successors, then fresh records. Within one cut tokens only go down, so a
// held queue passed over stays passed over (hi only advances).
type cutSource struct {
	hi   int
	from int
	b    *bucket // the held queue r came from (fromHeld)
}

func (p *Producer) peekLocked(st *streamState, c *cutSource, now time.Time) *record {
	for ; c.hi < len(st.heldList); c.hi++ {
		b := st.heldList[c.hi]
		if b.held.len() > 0 && (b.cut == p.cutSeq || !now.Before(b.released.Add(limiterTick))) &&
			p.lim.affords(b, 1, b.held.peek().size, now) {
			c.from, c.b = fromHeld, b
			return b.held.peek()
		}
	}
	switch {
	case st.prio.len() > 0:
		c.from = fromPrio
		return st.prio.peek()
	case st.fresh.len() > 0:
		c.from = fromFresh
		return st.fresh.peek()
	}
	return nil
}

// nextLiveLocked is peekLocked for the cut loops: it expires, on the way,
// retries and held records past their TTL (the only place those are
// checked; fresh records are expired by planLocked).
func (p *Producer) nextLiveLocked(st *streamState, c *cutSource, now time.Time, expired []*record) (*record, []*record) {
	for {
		r := p.peekLocked(st, c, now)
		if r == nil || c.from == fromFresh || r.deadline.IsZero() || r.deadline.After(now) {
			return r, expired
		}
		p.popLocked(st, c)
		p.expire(r)
		expired = append(expired, r)
	}
}

func (p *Producer) popLocked(st *streamState, c *cutSource) *record {
	switch c.from {
	case fromHeld:
		return st.popHeld(c.b)
	case fromPrio:
		return st.prio.pop()
	}
	return st.popFresh()
}

// roomForRequestLocked says whether another request may start: a sender is
// free and the requests in flight hold less than MaxInFlightBytes.
func (p *Producer) roomForRequestLocked() bool {
	return p.inFlight < p.opts.MaxInFlight && p.inFlightBytes < p.opts.MaxInFlightBytes
}
