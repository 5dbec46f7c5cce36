package kinesisfake

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/pulsar-kinesis/kinesis-sink/sink/kpl"
)

// The operations, once, on the SDK's input and output types: Client
// passes them through, Handler decodes and encodes them as JSON. Each
// returns the call (for its request id) and a core error: *APIError, a
// transport failure or the context's error.

func streamArg(name, arn *string) string {
	if arn != nil {
		return *arn
	}
	return aws.ToString(name)
}

// routing is the hash of each entry, computed once per call; ok is false
// for an entry whose key or explicit hash key does not parse.
type routing struct {
	hashes []kpl.Hash
	ok     []bool
}

func routeEntries(recs []types.PutRecordsRequestEntry) routing {
	r := routing{hashes: make([]kpl.Hash, len(recs)), ok: make([]bool, len(recs))}
	for i := range recs {
		e := &recs[i]
		if e.PartitionKey == nil {
			continue
		}
		h, err := kpl.RecordHash(*e.PartitionKey, aws.ToString(e.ExplicitHashKey))
		r.hashes[i], r.ok[i] = h, err == nil
	}
	return r
}

func (r routing) infos(s *Stream, recs []types.PutRecordsRequestEntry) []EntryInfo {
	out := make([]EntryInfo, len(recs))
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	for i := range recs {
		e := &recs[i]
		pk := aws.ToString(e.PartitionKey)
		out[i] = EntryInfo{PartitionKey: pk, ExplicitHashKey: aws.ToString(e.ExplicitHashKey), Size: len(e.Data) + len(pk)}
		if s != nil && !s.deleted && r.ok[i] {
			out[i].ShardID = s.routeLocked(r.hashes[i]).id
		}
	}
	return out
}

func (m *Model) putRecords(ctx context.Context, in *kinesis.PutRecordsInput) (*kinesis.PutRecordsOutput, *call, error) {
	rt := routeEntries(in.Records)
	c, err := m.begin(ctx, "PutRecords", streamArg(in.StreamName, in.StreamARN), func() []EntryInfo {
		st, _ := m.lookup(in.StreamName, in.StreamARN)
		return rt.infos(st, in.Records)
	})
	if err != nil {
		return nil, c, err
	}
	if e := validatePutRecords(in); e != nil {
		return nil, c, e
	}
	st, e := m.lookup(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	if e := checkEntries(in.Records, st, m.cfg.MaxRequestBytes); e != nil {
		return nil, c, e
	}
	out, t, e := st.put(in.Records, rt.hashes, c.fault.EntryErrors, m.limit, m.now())
	if e != nil {
		return nil, c, e
	}
	m.entriesStored.Add(int64(t.stored))
	m.entriesThrottled.Add(int64(t.throttled))
	m.entriesFaulted.Add(int64(t.faulted))
	if err := c.finish(ctx); err != nil {
		return nil, c, err
	}
	return out, c, nil
}

// describe validates a stream argument and finds the stream.
func (m *Model) describe(name, arn *string) (*Stream, *APIError) {
	var v violations
	v.streamArgs(name, arn)
	if e := v.err(); e != nil {
		return nil, e
	}
	return m.lookup(name, arn)
}

func (m *Model) describeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput) (*kinesis.DescribeStreamSummaryOutput, *call, error) {
	c, err := m.begin(ctx, "DescribeStreamSummary", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	st, e := m.describe(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	out := &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: st.summary()}
	return out, c, c.finish(ctx)
}

func (s *Stream) summary() *types.StreamDescriptionSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &types.StreamDescriptionSummary{
		StreamName:              aws.String(s.name),
		StreamARN:               aws.String(s.arn),
		StreamStatus:            s.status,
		StreamModeDetails:       &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
		RetentionPeriodHours:    aws.Int32(24),
		StreamCreationTimestamp: aws.Time(s.created),
		EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		EncryptionType:          types.EncryptionTypeNone,
		OpenShardCount:          aws.Int32(int32(len(s.open))),
		ConsumerCount:           aws.Int32(0),
		MaxRecordSizeInKiB:      aws.Int32(int32(s.maxKiB)),
	}
}

func (m *Model) describeStream(ctx context.Context, in *kinesis.DescribeStreamInput) (*kinesis.DescribeStreamOutput, *call, error) {
	c, err := m.begin(ctx, "DescribeStream", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	st, e := m.describe(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	limit := int(aws.ToInt32(in.Limit))
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	sum := st.summary()
	st.mu.Lock()
	all := st.sdkShardsLocked()
	st.mu.Unlock()
	shards := all[:0:0]
	for _, sh := range all {
		if in.ExclusiveStartShardId == nil || *sh.ShardId > *in.ExclusiveStartShardId {
			shards = append(shards, sh)
		}
	}
	more := len(shards) > limit
	if more {
		shards = shards[:limit]
	}
	out := &kinesis.DescribeStreamOutput{StreamDescription: &types.StreamDescription{
		StreamName: sum.StreamName, StreamARN: sum.StreamARN, StreamStatus: sum.StreamStatus,
		StreamModeDetails: sum.StreamModeDetails, RetentionPeriodHours: sum.RetentionPeriodHours,
		StreamCreationTimestamp: sum.StreamCreationTimestamp, EnhancedMonitoring: sum.EnhancedMonitoring,
		EncryptionType: sum.EncryptionType, Shards: shards, HasMoreShards: aws.Bool(more),
	}}
	return out, c, c.finish(ctx)
}

// A ListShards NextToken names the stream (by generation) and the last
// shard listed; it is opaque to callers, as Kinesis's is.
const listTokenPrefix = "kinesisfake-shards:"

func (m *Model) listShards(ctx context.Context, in *kinesis.ListShardsInput) (*kinesis.ListShardsOutput, *call, error) {
	c, err := m.begin(ctx, "ListShards", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	named := in.StreamName != nil || in.StreamARN != nil
	switch {
	case !named && in.NextToken == nil:
		return nil, c, apiErr(CodeInvalidArgument, "Either NextToken or StreamName should be provided.")
	case named && in.NextToken != nil:
		return nil, c, apiErr(CodeInvalidArgument, "NextToken and StreamName cannot be provided together.")
	}
	max := int(aws.ToInt32(in.MaxResults))
	if in.MaxResults != nil && (max < 1 || max > 10000) {
		return nil, c, apiErr(CodeValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000", max)
	}
	if max == 0 {
		max = 1000
	}
	var st *Stream
	after := aws.ToString(in.ExclusiveStartShardId)
	openOnly := false
	if in.NextToken != nil {
		gen, last, only, ok := parseListToken(*in.NextToken)
		m.mu.Lock()
		st = m.byGen[gen]
		m.mu.Unlock()
		if !ok || st == nil {
			return nil, c, apiErr(CodeInvalidArgument, "Invalid ShardId in ListShards NextToken.")
		}
		after, openOnly = last, only
	} else {
		var e *APIError
		if st, e = m.describe(in.StreamName, in.StreamARN); e != nil {
			return nil, c, e
		}
		if f := in.ShardFilter; f != nil {
			switch f.Type {
			case types.ShardFilterTypeAtLatest:
				openOnly = true
			case types.ShardFilterTypeAfterShardId:
				after = aws.ToString(f.ShardId)
			}
		}
	}
	st.mu.Lock()
	all := st.sdkShardsLocked()
	deleted := st.deleted
	st.mu.Unlock()
	if deleted {
		return nil, c, st.notFound()
	}
	out := &kinesis.ListShardsOutput{}
	for _, sh := range all {
		if *sh.ShardId <= after || (openOnly && sh.SequenceNumberRange.EndingSequenceNumber != nil) {
			continue
		}
		if len(out.Shards) == max {
			last := *out.Shards[len(out.Shards)-1].ShardId
			out.NextToken = aws.String(listToken(st.gen, last, openOnly))
			break
		}
		out.Shards = append(out.Shards, sh)
	}
	return out, c, c.finish(ctx)
}

func listToken(gen uint64, last string, openOnly bool) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s%d:%s:%t", listTokenPrefix, gen, last, openOnly))
}

func parseListToken(tok string) (gen uint64, last string, openOnly, ok bool) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return 0, "", false, false
	}
	rest, found := strings.CutPrefix(string(b), listTokenPrefix)
	parts := strings.Split(rest, ":")
	if !found || len(parts) != 3 {
		return 0, "", false, false
	}
	gen, err = strconv.ParseUint(parts[0], 10, 64)
	return gen, parts[1], parts[2] == "true", err == nil
}

func (m *Model) createStream(ctx context.Context, in *kinesis.CreateStreamInput) (*kinesis.CreateStreamOutput, *call, error) {
	c, err := m.begin(ctx, "CreateStream", aws.ToString(in.StreamName), nil)
	if err != nil {
		return nil, c, err
	}
	var v violations
	v.notNull(in.StreamName == nil, "streamName")
	v.pattern(in.StreamName, "streamName", streamNameRE, streamNamePattern)
	v.stringLen(in.StreamName, "streamName", 1, 128)
	if e := v.err(); e != nil {
		return nil, c, e
	}
	// A stream created without a shard count is on-demand, which starts
	// with four shards.
	n := 4
	if in.ShardCount != nil {
		n = int(*in.ShardCount)
	}
	if _, err := m.CreateStream(StreamSpec{Name: *in.StreamName, Shards: n, MaxRecordSizeInKiB: int(aws.ToInt32(in.MaxRecordSizeInKiB))}); err != nil {
		return nil, c, err
	}
	return &kinesis.CreateStreamOutput{}, c, c.finish(ctx)
}

func (m *Model) deleteStream(ctx context.Context, in *kinesis.DeleteStreamInput) (*kinesis.DeleteStreamOutput, *call, error) {
	c, err := m.begin(ctx, "DeleteStream", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	st, e := m.describe(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	if err := m.DeleteStream(st.name); err != nil {
		return nil, c, err
	}
	return &kinesis.DeleteStreamOutput{}, c, c.finish(ctx)
}

func (m *Model) splitShard(ctx context.Context, in *kinesis.SplitShardInput) (*kinesis.SplitShardOutput, *call, error) {
	c, err := m.begin(ctx, "SplitShard", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	st, e := m.describe(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	if _, err := st.SplitShard(aws.ToString(in.ShardToSplit), aws.ToString(in.NewStartingHashKey)); err != nil {
		return nil, c, err
	}
	return &kinesis.SplitShardOutput{}, c, c.finish(ctx)
}

func (m *Model) mergeShards(ctx context.Context, in *kinesis.MergeShardsInput) (*kinesis.MergeShardsOutput, *call, error) {
	c, err := m.begin(ctx, "MergeShards", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	st, e := m.describe(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	if _, err := st.MergeShards(aws.ToString(in.ShardToMerge), aws.ToString(in.AdjacentShardToMerge)); err != nil {
		return nil, c, err
	}
	return &kinesis.MergeShardsOutput{}, c, c.finish(ctx)
}

// A shard iterator names the stream (by generation), the shard and the
// index of the next record to read.
const iteratorPrefix = "kinesisfake-iterator:"

func iterator(gen uint64, shard, pos int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s%d:%d:%d", iteratorPrefix, gen, shard, pos))
}

func parseIterator(it string) (gen uint64, shard, pos int, ok bool) {
	b, err := base64.StdEncoding.DecodeString(it)
	if err != nil {
		return 0, 0, 0, false
	}
	rest, found := strings.CutPrefix(string(b), iteratorPrefix)
	if !found {
		return 0, 0, 0, false
	}
	_, err = fmt.Sscanf(rest, "%d:%d:%d", &gen, &shard, &pos)
	return gen, shard, pos, err == nil
}

func (m *Model) getShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput) (*kinesis.GetShardIteratorOutput, *call, error) {
	c, err := m.begin(ctx, "GetShardIterator", streamArg(in.StreamName, in.StreamARN), nil)
	if err != nil {
		return nil, c, err
	}
	st, e := m.describe(in.StreamName, in.StreamARN)
	if e != nil {
		return nil, c, e
	}
	it, e := st.iterator(in)
	if e != nil {
		return nil, c, e
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(it)}, c, c.finish(ctx)
}

// iterator is GetShardIterator's answer for the stream.
func (s *Stream) iterator(in *kinesis.GetShardIteratorInput) (string, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shardLocked(aws.ToString(in.ShardId))
	if sh == nil {
		return "", s.shardNotFound(aws.ToString(in.ShardId))
	}
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		pos = len(sh.records)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		want := aws.ToString(in.StartingSequenceNumber)
		i := slices.IndexFunc(sh.records, func(r Record) bool { return r.SequenceNumber == want })
		if i < 0 {
			return "", apiErr(CodeInvalidArgument, "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.",
				want, sh.id, s.name, s.account)
		}
		pos = i
		if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			pos++
		}
	case types.ShardIteratorTypeAtTimestamp:
		ts := aws.ToTime(in.Timestamp)
		for pos < len(sh.records) && sh.records[pos].ArrivalTime.Before(ts) {
			pos++
		}
	default:
		return "", apiErr(CodeValidation, "1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]", in.ShardIteratorType)
	}
	return iterator(s.gen, sh.index, pos), nil
}

func (m *Model) getRecords(ctx context.Context, in *kinesis.GetRecordsInput) (*kinesis.GetRecordsOutput, *call, error) {
	c, err := m.begin(ctx, "GetRecords", "", nil)
	if err != nil {
		return nil, c, err
	}
	gen, idx, pos, ok := parseIterator(aws.ToString(in.ShardIterator))
	m.mu.Lock()
	st := m.byGen[gen]
	m.mu.Unlock()
	if !ok || st == nil {
		return nil, c, apiErr(CodeInvalidArgument, "Invalid ShardIterator.")
	}
	limit := int(aws.ToInt32(in.Limit))
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	out, e := st.read(idx, pos, limit, m.now())
	if e != nil {
		return nil, c, e
	}
	return out, c, c.finish(ctx)
}

// read is GetRecords' answer: up to limit records of shard idx from pos.
func (s *Stream) read(idx, pos, limit int, now time.Time) (*kinesis.GetRecordsOutput, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted || idx >= len(s.shards) {
		return nil, s.notFound()
	}
	sh := s.shards[idx]
	pos = max(0, min(pos, len(sh.records)))
	end := min(len(sh.records), pos+limit)
	out := &kinesis.GetRecordsOutput{Records: []types.Record{}, MillisBehindLatest: aws.Int64(0)}
	for _, r := range sh.records[pos:end] {
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(r.SequenceNumber),
			PartitionKey: aws.String(r.PartitionKey), Data: slices.Clone(r.Data), ApproximateArrivalTimestamp: aws.Time(r.ArrivalTime),
			EncryptionType: types.EncryptionTypeNone})
	}
	if end < len(sh.records) {
		out.MillisBehindLatest = aws.Int64(max(0, now.Sub(sh.records[end].ArrivalTime).Milliseconds()))
	}
	if sh.open() || end < len(sh.records) {
		out.NextShardIterator = aws.String(iterator(s.gen, idx, end))
	} else {
		// A closed shard read to its end has no next iterator; the reader
		// goes on with its children.
		for _, ch := range s.shards {
			if ch.parent == sh.id || ch.adjacent == sh.id {
				parents := []string{ch.parent}
				if ch.adjacent != "" {
					parents = append(parents, ch.adjacent)
				}
				out.ChildShards = append(out.ChildShards, types.ChildShard{ShardId: aws.String(ch.id), ParentShards: parents,
					HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String(ch.start.String()), EndingHashKey: aws.String(ch.end.String())}})
			}
		}
	}
	return out, nil
}
