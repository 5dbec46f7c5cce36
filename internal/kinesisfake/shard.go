package kinesisfake

import (
	"fmt"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// ShardLimit is a shard's write limits. Kinesis counts, per shard, records
// (a KPL aggregate is one record) and bytes of data plus partition key;
// each shard here has a token bucket per limit that refills at the limit
// and holds Burst seconds of it, so that a shard idle for a while takes a
// short burst, as Kinesis does, and a steady load above the limit is
// throttled down to it.
type ShardLimit struct {
	RecordsPerSecond float64
	BytesPerSecond   float64
	// Burst is how many seconds of the limits a bucket holds; 0 means 1.
	Burst float64
}

// KinesisShardLimit is the write limit of a Kinesis shard: 1,000 records
// and 1 MiB per second, with a second of burst.
func KinesisShardLimit() ShardLimit {
	return ShardLimit{RecordsPerSecond: 1000, BytesPerSecond: 1 << 20, Burst: 1}
}

func (l ShardLimit) burst() float64 {
	if l.Burst <= 0 {
		return 1
	}
	return l.Burst
}

// Bucket is one shard's write tokens under a ShardLimit. It starts full.
// It is the one implementation of Kinesis's shard limits in the tests: the
// fault proxy's shard-limit mode uses it too.
type Bucket struct {
	records, bytes float64
	at             time.Time
	started        bool
}

// Take charges one record of size bytes at now if the shard can take it.
// A record bigger than the whole byte bucket passes when the bucket is
// full and leaves it in debt, so that a large record (up to 10 MiB on a
// raised MaxRecordSizeInKiB) is slow rather than impossible.
func (b *Bucket) Take(l ShardLimit, now time.Time, size int) bool {
	capRecords, capBytes := l.RecordsPerSecond*l.burst(), l.BytesPerSecond*l.burst()
	if !b.started {
		b.records, b.bytes, b.at, b.started = capRecords, capBytes, now, true
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.records = min(capRecords, b.records+dt*l.RecordsPerSecond)
		b.bytes = min(capBytes, b.bytes+dt*l.BytesPerSecond)
		b.at = now
	}
	need := min(float64(size), capBytes)
	if b.records < 1 || b.bytes < need {
		return false
	}
	b.records--
	b.bytes -= float64(size)
	return true
}

// shard is one shard of a stream. Its records are never trimmed: the
// model keeps everything for read-back.
type shard struct {
	index            int
	id               string
	idRef            *string // id, shared by every answer naming the shard
	start, end       kpl.Hash
	parent, adjacent string
	startSeq, endSeq string // endSeq is "" while the shard is open
	records          []Record
	tokens           Bucket
}

func shardID(index int) string { return fmt.Sprintf("shardId-%012d", index) }

func (s *shard) open() bool { return s.endSeq == "" }

// ShardInfo describes a shard as ListShards does.
type ShardInfo struct {
	ID                     string
	ParentShardID          string
	AdjacentParentShardID  string
	StartingHashKey        string
	EndingHashKey          string
	StartingSequenceNumber string
	// EndingSequenceNumber is set once the shard is closed by a split or
	// merge.
	EndingSequenceNumber string
	Records              int
}

// Open says whether the shard takes writes.
func (i ShardInfo) Open() bool { return i.EndingSequenceNumber == "" }

func (s *shard) info() ShardInfo {
	return ShardInfo{ID: s.id, ParentShardID: s.parent, AdjacentParentShardID: s.adjacent,
		StartingHashKey: s.start.String(), EndingHashKey: s.end.String(),
		StartingSequenceNumber: s.startSeq, EndingSequenceNumber: s.endSeq, Records: len(s.records)}
}

// Record is a record as stored: the answer PutRecords gave for it and what
// it carried.
type Record struct {
	ShardID         string
	SequenceNumber  string
	PartitionKey    string
	ExplicitHashKey string
	Data            []byte
	ArrivalTime     time.Time
}
