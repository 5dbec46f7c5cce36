package runtime

import (
	"testing"
	"time"
)

// The -instance-conf of the 3.3.6 and 5.0.1 workers (process runtime),
// captured as the 4.0.8 one was (see testdata/instanceconf/README.md) with
// the same pulsar-admin flags. All three lines send the same keys and the
// same functionDetails fields (only the order of fields inside
// functionDetails differs), so each capture must load to the same
// configuration; a line that changes the shape fails here first.
func TestInstanceConfPulsarLines(t *testing.T) {
	for _, c := range []struct {
		version, funcID, funcVersion string
		port, metricsPort            int
	}{
		{"3.3.6", "ea42f07b-faf6-4802-b709-a86f8c10f48e", "ea4ec376-1ed1-48c5-ac62-f4782a59bb90", 41927, 36525},
		{"5.0.1", "ea31ca2f-8746-4e4f-888c-de5f34ac1579", "7007483d-0115-4654-81e1-870c1a627b2f", 40225, 33179},
	} {
		t.Run(c.version, func(t *testing.T) {
			got, err := LoadInstanceConfig(readInstanceConfFixture(t, "pulsar-"+c.version+"-worker.json"), "")
			if err != nil {
				t.Fatal(err)
			}
			compareInstanceConfig(t, got, &InstanceConfig{
				Tenant: "public", Namespace: "default", Name: "ic-capture-" + c.version,
				FuncID: c.funcID, FuncVersion: c.funcVersion, ClusterName: "standalone",
				ServiceURL: "pulsar://127.0.0.1:26650",
				Port:       c.port, MetricsPort: c.metricsPort, MaxBufTuples: 1024,
				ProcessingGuarantees: AtLeastOnce, AutoAck: true, Parallelism: 1,
				// --retain-ordering travels only inside functionDetails, on
				// every line.
				RetainOrdering: true,
				UserConfig:     map[string]any{"region": "us-east-1", "stream": "orders", "n": 3.0},
				SecretsMap:     map[string]any{"awsKey": map[string]any{"path": "x", "key": "y"}},
				Inputs: []InputSpec{
					{Topic: "persistent://public/default/ic-in-a-1"},
					{Topic: "persistent://public/default/ic-in-b-1"},
					{Topic: "persistent://public/default/ic-in-c-1", ReceiverQueueSize: 500, ConsumerProperties: map[string]string{"k": "v"}},
				},
				SubscriptionName:           "sub-1",
				SubscriptionType:           Failover,
				SubscriptionPosition:       Earliest,
				CleanupSubscription:        true,
				AckTimeout:                 30 * time.Second,
				NegativeAckRedeliveryDelay: 30 * time.Second,
				Resources:                  Resources{CPU: 0.5, RAM: 268435456, Disk: 1073741824},
			})
		})
	}
}
