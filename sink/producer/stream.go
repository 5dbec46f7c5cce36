package producer

import "time"

// streamState is one stream's records on their way to a request, its
// pause and its shard map. It keeps its own counts: freshBytes is the
// size of the records in fresh, heldCount the number of records in the
// held queues of heldList, and a bucket is in heldList exactly while its
// listed flag is set. Guarded by Producer.mu.
type streamState struct {
	name string
	// nameRef and arnRef name the stream in requests (see streamRef).
	nameRef, arnRef *string
	maxRecordSize   int
	fresh           ring // never sent, in Put order
	freshBytes      int
	prio            ring // due retries and released same-key successors: sent before fresh

	// A request that fails as a whole with a retriable error (endpoint
	// unreachable, timeout, 5xx, request-level throttling) pauses the
	// stream: nothing is sent to it until pausedUntil, and the pause doubles
	// with each consecutive such failure until a response arrives. During an
	// outage that is one probe per backoff window instead of every record
	// retrying on its own in tiny requests; when it ends, the backlog goes
	// out in full requests.
	pausedUntil time.Time
	failures    int

	// Shard map (AggregateByShard): nil while none is available, and then
	// records go unaggregated. mapLoading says a load is running;
	// mapNextLoad is the earliest next one (minReload apart, backing off
	// after failures).
	shardMap    *shardMap
	mapLoading  bool
	mapNextLoad time.Time
	mapFailures int
	mapReason   string // why the next load happens, for ShardMapInfo

	// Rate limiting (see ratelimit.go): buckets is parallel to
	// shardMap.shards while both a limit and a map exist, else empty;
	// byShard keeps the buckets across map reloads; heldList lists the
	// buckets with held records, heldCount counts those records.
	buckets   []*bucket
	byShard   map[string]*bucket
	heldList  []*bucket
	heldCount int
}

func (st *streamState) pushFresh(r *record) {
	st.fresh.push(r)
	st.freshBytes += r.size
}

func (st *streamState) popFresh() *record {
	r := st.fresh.pop()
	st.freshBytes -= r.size
	return r
}

// queued counts the records waiting for a cut outside the held queues.
func (st *streamState) queued() int { return st.prio.len() + st.fresh.len() }

func (st *streamState) paused(now time.Time) bool { return now.Before(st.pausedUntil) }

// requestEnded updates the pause after a request: any response ends it; a
// whole-request retriable failure starts or lengthens it, at most once
// per pause, so that requests that were already in flight when an outage
// began do not each double it.
func (st *streamState) requestEnded(answered, failedWhole bool, now time.Time, bo backoff) {
	switch {
	case answered:
		st.failures = 0
		st.pausedUntil = time.Time{}
	case failedWhole && !st.paused(now):
		st.failures++
		st.pausedUntil = now.Add(bo.delay(st.failures, 0))
	}
}

// mapLoadFailed schedules the next shard map load: at least minReload
// away, and further, by the retry backoff, after consecutive failures.
func (st *streamState) mapLoadFailed(now time.Time, bo backoff) {
	st.mapFailures++
	st.mapNextLoad = now.Add(max(minReload, bo.delay(st.mapFailures, 0)))
	st.mapReason = "retry"
}

func (st *streamState) mapLoadSucceeded(now time.Time) {
	st.mapFailures = 0
	st.mapReason = ""
	st.mapNextLoad = now.Add(minReload)
}

// hold queues r behind its shard's bucket b (the rate limit).
func (st *streamState) hold(b *bucket, r *record) {
	b.held.push(r)
	st.heldCount++
	if !b.listed {
		b.listed = true
		st.heldList = append(st.heldList, b)
	}
}

func (st *streamState) popHeld(b *bucket) *record {
	st.heldCount--
	return b.held.pop()
}

// unhold moves every held record ahead of the priority queue, in the
// order of the held queues.
func (st *streamState) unhold() {
	if st.heldCount == 0 {
		return
	}
	var q ring
	st.drainHeld(q.push)
	for st.prio.len() > 0 {
		q.push(st.prio.pop())
	}
	st.prio = q
}

func (st *streamState) drainHeld(to func(*record)) {
	for _, b := range st.heldList {
		for b.held.len() > 0 {
			to(b.held.pop())
		}
		b.listed = false
	}
	clear(st.heldList)
	st.heldList = st.heldList[:0]
	st.heldCount = 0
}

// pruneHeld drops emptied queues from heldList after a cut.
func (st *streamState) pruneHeld() {
	j := 0
	for _, b := range st.heldList {
		if b.held.len() > 0 {
			st.heldList[j] = b
			j++
		} else {
			b.listed = false
		}
	}
	clear(st.heldList[j:])
	st.heldList = st.heldList[:j]
}

// drain empties every queue of the stream into to: retries first, then
// fresh records, then held ones.
func (st *streamState) drain(to func(*record)) {
	for st.prio.len() > 0 {
		to(st.prio.pop())
	}
	for st.fresh.len() > 0 {
		to(st.fresh.pop())
	}
	st.freshBytes = 0
	st.drainHeld(to)
}
