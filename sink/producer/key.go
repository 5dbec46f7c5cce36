package producer

// keyID names an ordering scope (RetainOrdering): stream and partition key.
type keyID struct {
	st *streamState
	pk string
}

// keyState exists while a record of its key is somewhere between Put and
// its resolution. Only that record (the head) can be queued, in flight or
// backing off; later records of the key wait in parked, in Put order.
type keyState struct {
	id     keyID
	parked ring
}

// keyTable is the ordering scopes of the records the producer holds
// (RetainOrdering). It alone decides which record of a key may be sent:
// the head, one at a time, in Put order. Guarded by Producer.mu.
type keyTable map[keyID]*keyState

// admit registers r under its key and says whether r is the key's head
// (to be queued now) rather than parked behind an earlier record.
func (t keyTable) admit(r *record) (head bool) {
	id := keyID{r.st, r.e.PartitionKey}
	if ks := t[id]; ks != nil {
		r.key = ks
		ks.parked.push(r)
		return false
	}
	ks := &keyState{id: id}
	t[id] = ks
	r.key = ks
	return true
}

// resolved is called when r, its key's head, is done (delivered or failed
// for good). It returns the key's next head, nil when the key has none
// left and is forgotten.
func (t keyTable) resolved(r *record) *record {
	ks := r.key
	if ks.parked.len() > 0 {
		return ks.parked.pop()
	}
	delete(t, ks.id)
	return nil
}

func (t keyTable) parked() int {
	n := 0
	for _, ks := range t {
		n += ks.parked.len()
	}
	return n
}

// drain empties every key's parked records into to.
func (t keyTable) drain(to func(*record)) {
	for _, ks := range t {
		for ks.parked.len() > 0 {
			to(ks.parked.pop())
		}
	}
}
