package cwmetrics

import (
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

type metricID uint8

// The KPL's metrics (its metrics.md), minus UserRecordsPerPutRecordsRequest:
// the producer sends Kinesis records and does not know how many user
// records each one aggregates per request.
const (
	mUserRecordsReceived metricID = iota
	mUserRecordsPending
	mUserRecordsPut
	mUserRecordsDataPut
	mKinesisRecordsPut
	mKinesisRecordsDataPut
	mErrorsByCode
	mAllErrors
	mRetriesPerRecord
	mUserRecordExpired
	mBufferingTime
	mRequestTime
	mUserRecordsPerKinesisRecord
	mKinesisRecordsPerPutRecordsRequest
	numMetrics
)

const (
	levelSummary  = 1
	levelDetailed = 2
)

type granularity uint8

const (
	granGlobal granularity = iota
	granStream
	granShard
)

type metricDef struct {
	name  string
	unit  types.StandardUnit
	level int
	// finest is the finest granularity the metric exists at.
	finest granularity
}

// metrics: names, units, levels and granularity as the KPL defines them.
var metrics = [numMetrics]metricDef{
	mUserRecordsReceived:                {"UserRecordsReceived", types.StandardUnitCount, levelDetailed, granStream},
	mUserRecordsPending:                 {"UserRecordsPending", types.StandardUnitCount, levelDetailed, granGlobal},
	mUserRecordsPut:                     {"UserRecordsPut", types.StandardUnitCount, levelSummary, granShard},
	mUserRecordsDataPut:                 {"UserRecordsDataPut", types.StandardUnitBytes, levelDetailed, granShard},
	mKinesisRecordsPut:                  {"KinesisRecordsPut", types.StandardUnitCount, levelSummary, granShard},
	mKinesisRecordsDataPut:              {"KinesisRecordsDataPut", types.StandardUnitBytes, levelDetailed, granShard},
	mErrorsByCode:                       {"ErrorsByCode", types.StandardUnitCount, levelSummary, granShard},
	mAllErrors:                          {"AllErrors", types.StandardUnitCount, levelSummary, granShard},
	mRetriesPerRecord:                   {"RetriesPerRecord", types.StandardUnitCount, levelDetailed, granShard},
	mUserRecordExpired:                  {"UserRecordExpired", types.StandardUnitCount, levelSummary, granShard},
	mBufferingTime:                      {"BufferingTime", types.StandardUnitMilliseconds, levelSummary, granShard},
	mRequestTime:                        {"RequestTime", types.StandardUnitMilliseconds, levelDetailed, granStream},
	mUserRecordsPerKinesisRecord:        {"UserRecordsPerKinesisRecord", types.StandardUnitCount, levelDetailed, granShard},
	mKinesisRecordsPerPutRecordsRequest: {"KinesisRecordsPerPutRecordsRequest", types.StandardUnitCount, levelDetailed, granStream},
}

// seriesKey identifies what one recording updates: the metric at the
// finest granularity kept (coarser ones are summed at upload time, so a
// recording is one map update whatever the granularity).
type seriesKey struct {
	metric        metricID
	stream, shard string
	code          string // ErrorsByCode only
}

// stat is a StatisticSet being accumulated.
type stat struct {
	count, sum, min, max float64
	// idle counts uploads without samples; idle series are dropped so
	// that closed shards and old streams do not accumulate.
	idle uint8
}

func (s *stat) add(v float64) {
	if s.count == 0 {
		s.min, s.max = v, v
	} else {
		s.min = math.Min(s.min, v)
		s.max = math.Max(s.max, v)
	}
	s.count++
	s.sum += v
}

func (s *stat) merge(o stat) {
	if o.count == 0 {
		return
	}
	if s.count == 0 {
		s.min, s.max = o.min, o.max
	} else {
		s.min = math.Min(s.min, o.min)
		s.max = math.Max(s.max, o.max)
	}
	s.count += o.count
	s.sum += o.sum
}

// addLocked adds v to the metric's series, if the metric is uploaded at the
// configured level. m.mu must be held.
func (m *Metrics) addLocked(id metricID, stream, shard, code string, v float64) {
	def := &metrics[id]
	if def.level > m.maxLevel {
		return
	}
	g := min(m.gran, def.finest)
	if g < granShard {
		shard = ""
	}
	if g < granStream {
		stream = ""
	}
	k := seriesKey{metric: id, stream: stream, shard: shard, code: code}
	s := m.series[k]
	if s == nil {
		s = &stat{}
		m.series[k] = s
	}
	s.add(v)
}

type snapEntry struct {
	key seriesKey
	st  stat
}

// datum is one CloudWatch metric datum: a series at one granularity, with
// the time of the interval it covers.
type datum struct {
	key seriesKey // stream "" means global; shard "" means stream level
	st  stat
	at  time.Time
}

// snapshot takes the interval's series, resets them, drops series idle for
// two intervals, and expands each series into its granularity levels (shard
// series also count for their stream and the global level).
func (m *Metrics) snapshot(now time.Time) []datum {
	m.mu.Lock()
	snap := m.snap[:0]
	for k, s := range m.series {
		if s.count == 0 {
			if s.idle++; s.idle >= 2 {
				delete(m.series, k)
			}
			continue
		}
		snap = append(snap, snapEntry{k, *s})
		*s = stat{}
	}
	m.snap = snap
	m.mu.Unlock()

	levels := make(map[seriesKey]*stat, len(snap)*2)
	var order []seriesKey
	addTo := func(k seriesKey, st stat) {
		s := levels[k]
		if s == nil {
			s = &stat{}
			levels[k] = s
			order = append(order, k)
		}
		s.merge(st)
	}
	for _, e := range snap {
		k := e.key
		if k.shard != "" {
			addTo(k, e.st)
			k.shard = ""
		}
		if k.stream != "" {
			addTo(k, e.st)
			k.stream = ""
		}
		addTo(k, e.st)
	}
	at := now.Truncate(time.Second)
	out := make([]datum, 0, len(order))
	for _, k := range order {
		out = append(out, datum{key: k, st: *levels[k], at: at})
	}
	return out
}
