package kinesisfake

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// Stream is one stream of a Model: its shards, their records and write
// limits. Its methods are safe for concurrent use.
type Stream struct {
	model   *Model
	name    string
	arn     string
	account string
	gen     uint64 // tells apart streams of one name, deleted and created again
	created time.Time
	maxKiB  int

	mu      sync.Mutex
	status  types.StreamStatus
	deleted bool
	shards  []*shard // every shard, by index
	open    []*shard // the open shards, by starting hash key
	seq     uint64   // the stream's last sequence number
}

// Name is the stream's name.
func (s *Stream) Name() string { return s.name }

// ARN is the stream's ARN, under the model's region and account.
func (s *Stream) ARN() string { return s.arn }

// MaxRecordSize is the largest record (data + partition key) the stream
// takes, in bytes.
func (s *Stream) MaxRecordSize() int { return s.maxKiB * 1024 }

// Status is the stream's status: ACTIVE unless SetStatus said otherwise.
func (s *Stream) Status() types.StreamStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// SetStatus puts the stream in a status, as Kinesis does for a while
// around a change: CREATING and DELETING refuse writes as a missing stream
// (ResourceNotFoundException), UPDATING takes them, and resharding needs
// ACTIVE. The model's own changes are immediate and leave the status
// alone; this is for tests of what a client does meanwhile.
func (s *Stream) SetStatus(st types.StreamStatus) {
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
}

// writableLocked says whether the stream takes records now.
func (s *Stream) writableLocked() bool {
	return !s.deleted && (s.status == types.StreamStatusActive || s.status == types.StreamStatusUpdating)
}

// activeLocked refuses a change unless the stream is ACTIVE.
func (s *Stream) activeLocked() *APIError {
	if s.deleted {
		return s.notFound()
	}
	if s.status != types.StreamStatusActive {
		return apiErr(CodeResourceInUse, "Stream %s under account %s not ACTIVE, instead in state %s", s.name, s.account, s.status)
	}
	return nil
}

// seqString formats a sequence number. They are decimal, of one width (so
// that they compare as strings as they do as numbers), and drawn from one
// counter per stream: increasing within a shard, and a child shard's
// numbers are above its parents'.
func seqString(n uint64) string {
	var b [56]byte
	for i := range b {
		b[i] = '0'
	}
	b[0] = '4'
	b[1] = '9'
	d := strconv.AppendUint(nil, n, 10)
	copy(b[len(b)-len(d):], d)
	return string(b[:])
}

func (s *Stream) addShardLocked(start, end kpl.Hash, parent, adjacent string) *shard {
	id := shardID(len(s.shards))
	sh := &shard{index: len(s.shards), id: id, idRef: &id, start: start, end: end,
		parent: parent, adjacent: adjacent, startSeq: seqString(s.seq + 1)}
	s.shards = append(s.shards, sh)
	s.open = append(s.open, sh)
	return sh
}

func (s *Stream) sortOpenLocked() {
	s.open = slices.DeleteFunc(s.open, func(sh *shard) bool { return !sh.open() })
	sort.Slice(s.open, func(i, j int) bool { return s.open[i].start.Cmp(s.open[j].start) < 0 })
}

// routeLocked returns the open shard owning h. The open shards cover the
// hash key space exactly once.
func (s *Stream) routeLocked(h kpl.Hash) *shard {
	i := sort.Search(len(s.open), func(i int) bool { return s.open[i].end.Cmp(h) >= 0 })
	return s.open[i]
}

// ShardFor returns the id of the open shard a record with this partition
// key and explicit hash key ("" for none) goes to now.
func (s *Stream) ShardFor(partitionKey, explicitHashKey string) (string, error) {
	h, err := kpl.RecordHash(partitionKey, explicitHashKey)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routeLocked(h).id, nil
}

func (s *Stream) shardLocked(id string) *shard {
	for _, sh := range s.shards {
		if sh.id == id {
			return sh
		}
	}
	return nil
}

// Shards lists every shard, open and closed, in shard id order, as
// ListShards does.
func (s *Stream) Shards() []ShardInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ShardInfo, len(s.shards))
	for i, sh := range s.shards {
		out[i] = sh.info()
	}
	return out
}

// OpenShards lists the shards that take writes, by starting hash key.
func (s *Stream) OpenShards() []ShardInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ShardInfo, len(s.open))
	for i, sh := range s.open {
		out[i] = sh.info()
	}
	return out
}

func (s *Stream) sdkShardsLocked() []types.Shard {
	out := make([]types.Shard, len(s.shards))
	for i, sh := range s.shards {
		t := types.Shard{
			ShardId:             aws.String(sh.id),
			HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(sh.start.String()), EndingHashKey: aws.String(sh.end.String())},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String(sh.startSeq)},
		}
		if sh.endSeq != "" {
			t.SequenceNumberRange.EndingSequenceNumber = aws.String(sh.endSeq)
		}
		if sh.parent != "" {
			t.ParentShardId = aws.String(sh.parent)
		}
		if sh.adjacent != "" {
			t.AdjacentParentShardId = aws.String(sh.adjacent)
		}
		out[i] = t
	}
	return out
}

func (s *Stream) notFound() *APIError {
	return apiErr(CodeResourceNotFound, "Stream %s under account %s not found.", s.name, s.account)
}

func (s *Stream) shardNotFound(id string) *APIError {
	return apiErr(CodeResourceNotFound, "Could not find shard %s in stream %s under account %s.", id, s.name, s.account)
}

// SplitShard splits an open shard at newStartingHashKey, as Kinesis's
// SplitShard does: the parent is closed (it keeps its records and gets an
// ending sequence number) and two children, both naming it as parent, take
// [start, newStartingHashKey-1] and [newStartingHashKey, end]. The change
// is immediate; Kinesis takes seconds, during which the stream is UPDATING
// and the parent still takes writes. It returns the children's ids.
func (s *Stream) SplitShard(shardID, newStartingHashKey string) ([2]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.activeLocked(); e != nil {
		return [2]string{}, e
	}
	sh := s.shardLocked(shardID)
	if sh == nil {
		return [2]string{}, s.shardNotFound(shardID)
	}
	if !sh.open() {
		return [2]string{}, apiErr(CodeInvalidArgument, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for splitting.", shardID, s.name, s.account)
	}
	k, err := kpl.ParseHash(newStartingHashKey)
	if err != nil || k.Cmp(hashPlusOne(sh.start)) <= 0 || k.Cmp(sh.end) >= 0 {
		return [2]string{}, apiErr(CodeInvalidArgument, "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			newStartingHashKey, shardID, s.name, s.account, sh.start, sh.end)
	}
	sh.endSeq = seqString(s.seq)
	a := s.addShardLocked(sh.start, hashMinusOne(k), sh.id, "")
	b := s.addShardLocked(k, sh.end, sh.id, "")
	s.sortOpenLocked()
	return [2]string{a.id, b.id}, nil
}

// SplitEvenly splits an open shard into two halves of its hash key range.
func (s *Stream) SplitEvenly(shardID string) ([2]string, error) {
	s.mu.Lock()
	sh := s.shardLocked(shardID)
	s.mu.Unlock()
	if sh == nil {
		return [2]string{}, s.shardNotFound(shardID)
	}
	return s.SplitShard(shardID, midpoint(sh.start, sh.end).String())
}

// MergeShards merges two open shards whose hash key ranges are adjacent,
// in either order, as Kinesis's MergeShards does: both are closed and one
// child takes their union, with shardID as ParentShardId and adjacentID as
// AdjacentParentShardId. The change is immediate. It returns the child's
// id.
func (s *Stream) MergeShards(shardID, adjacentID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.activeLocked(); e != nil {
		return "", e
	}
	a, b := s.shardLocked(shardID), s.shardLocked(adjacentID)
	if a == nil {
		return "", s.shardNotFound(shardID)
	}
	if b == nil {
		return "", s.shardNotFound(adjacentID)
	}
	for _, sh := range []*shard{a, b} {
		if !sh.open() {
			return "", apiErr(CodeInvalidArgument, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging.", sh.id, s.name, s.account)
		}
	}
	lo, hi := a, b
	if b.start.Cmp(a.start) < 0 {
		lo, hi = b, a
	}
	if a == b || hashPlusOne(lo.end) != hi.start {
		return "", apiErr(CodeInvalidArgument, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging",
			shardID, adjacentID, s.name, s.account)
	}
	a.endSeq, b.endSeq = seqString(s.seq), seqString(s.seq)
	c := s.addShardLocked(lo.start, hi.end, a.id, b.id)
	s.sortOpenLocked()
	return c.id, nil
}

// Records returns every stored record, shard by shard in shard id order,
// each shard's in sequence number order.
func (s *Stream) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, sh := range s.shards {
		out = append(out, sh.records...)
	}
	return out
}

// ShardRecords returns the records stored on one shard, in order.
func (s *Stream) ShardRecords(shardID string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.shardLocked(shardID); sh != nil {
		return slices.Clone(sh.records)
	}
	return nil
}

// UserRecord is a record as a KCL consumer sees it: a KPL aggregate's
// sub-records one by one, any other record as itself.
type UserRecord struct {
	Record // the stored Kinesis record it came in
	// PartitionKey, ExplicitHashKey and Data are the user record's; they
	// shadow the stored record's for an aggregate.
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
	// SubIndex is the position within the aggregate (0 for a plain record),
	// Aggregated says the record came in an aggregate.
	SubIndex   int
	Aggregated bool
}

// UserRecords returns every stored record deaggregated (sink/kpl), in the
// order of Records. It fails on a record that has the KPL magic but does
// not decode.
func (s *Stream) UserRecords() ([]UserRecord, error) {
	var out []UserRecord
	for _, r := range s.Records() {
		if !kpl.IsAggregated(r.Data) {
			out = append(out, UserRecord{Record: r, PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data})
			continue
		}
		subs, err := kpl.Deaggregate(r.Data)
		if err != nil {
			return nil, fmt.Errorf("record %s of shard %s: %w", r.SequenceNumber, r.ShardID, err)
		}
		for i, u := range subs {
			out = append(out, UserRecord{Record: r, PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey,
				Data: u.Data, SubIndex: i, Aggregated: true})
		}
	}
	return out, nil
}
