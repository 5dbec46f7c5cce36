package producer_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/faultproxy"
	"github.com/pulsar-kinesis/kinesis-sink/sink/producer"
)

// TestAdaptiveRateLimitAtShardLimit: a backlog on a 2-shard stream behind
// the fault proxy's shard limits, on the model (model_faults_test.go):
// each shard takes Kinesis's 1,000 records/s and 1 MiB/s. At the default
// rateLimit of 150 a fixed limit sends half again what a shard takes, and
// about a third of its entries come back throttled; the adaptive limit
// learns the shards' limits from those answers and has far fewer refused.
// Both deliver everything, in order per key. The throttled share is
// counted by the proxy per entry, whatever the machine's speed: a slow
// machine sends less and is throttled less, with either limit.
func TestAdaptiveRateLimitAtShardLimit(t *testing.T) {
	throttled := map[bool]float64{}
	for _, adaptive := range []bool{false, true} {
		t.Run(fmt.Sprintf("adaptive=%v", adaptive), func(t *testing.T) {
			onModel(t, func(t *testing.T, c kinesisAPI) {
				opts := producer.Options{RateLimit: 150, AdaptiveRateLimit: adaptive, RetainOrdering: true,
					Aggregation: producer.AggregateNone, Linger: 20 * time.Millisecond}
				e := newFaultEnvOn(t, c, 2, 15, opts)
				e.proxy.SetRules(faultproxy.Rules{ShardLimit: faultproxy.KinesisShardLimit()})
				// About 7 s at the shards' limits: long enough that the first
				// second, where both limits start with a full bucket, is not
				// what decides.
				const n = 14000
				col := newCollector(n)
				want := e.putAll(t, col, n, func(id int) string { return fmt.Sprintf("key-%d", id%200) })
				e.flush(t, col, 3*time.Minute)

				users, _, _ := readUserRecords(t, e.direct, e.stream)
				checkUserRecords(t, users, want, true)
				pc := e.proxy.Counters()
				if pc.EntriesOverLimit+pc.EntriesUnderLimit == 0 {
					t.Fatal("the proxy counted no entries against the shard limits")
				}
				throttled[adaptive] = float64(pc.EntriesOverLimit) / float64(pc.EntriesOverLimit+pc.EntriesUnderLimit) * 100
				t.Logf("%d records delivered; %.2f%% of %d entries throttled (proxy %+v)", len(users), throttled[adaptive],
					pc.EntriesOverLimit+pc.EntriesUnderLimit, pc)
			})
		})
	}
	fixed, adaptive := throttled[false], throttled[true]
	if fixed == 0 {
		t.Fatalf("the fixed limit at 150%% was never throttled (%.2f%%): the shard limits did not bite, the test shows nothing", fixed)
	}
	if adaptive > fixed/3 {
		t.Errorf("adaptive limit: %.2f%% of entries throttled, fixed: %.2f%%; want the adaptive one under a third of the fixed", adaptive, fixed)
	}
}
