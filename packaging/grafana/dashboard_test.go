// Package grafana holds the dashboard for the sink's Prometheus families and
// its test. It is a module of its own so that the PromQL parser the test
// needs, and what that parser pulls in, stay out of the sink's dependencies.
package grafana

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/pulsar-kinesis/kinesis-sink/runtime"
	"github.com/pulsar-kinesis/kinesis-sink/sink/cwmetrics"
)

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("kinesis-sink.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("kinesis-sink.json: %v", err)
	}
	return d
}

// query is one PromQL text of the dashboard and where it is.
type query struct{ where, expr string }

func queries(t *testing.T, d dashboard) []query {
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				qs = append(qs, query{"panel " + p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m, _ := v.Query.(map[string]any)
		text, _ := m["query"].(string)
		sel := labelValues.FindStringSubmatch(text)
		if sel == nil {
			t.Errorf("variable %s: %q is not label_values(<selector>, <label>)", v.Name, text)
			continue
		}
		qs = append(qs, query{"variable " + v.Name, sel[1]})
	}
	return qs
}

// grafanaVars are Grafana's own variables and the dashboard's, replaced by
// what Grafana would put there so that the text is PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$stream", ".*", "$job", ".*", "$fqfn", ".*", "$subscription", ".*",
)

// metricNames parses expr and returns the metric names it selects.
func metricNames(t *testing.T, q query) []string {
	t.Helper()
	if strings.Contains(grafanaVars.Replace(q.expr), "$") {
		t.Errorf("%s: a variable the test does not know in %q", q.where, q.expr)
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(q.expr))
	if err != nil {
		t.Errorf("%s: %v\n%s", q.where, err, q.expr)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name: %s", q.where, vs)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// served returns the names the sink serves on its metrics port: the
// runtime's pulsar_function_* families and cwmetrics' kinesis_sink_* ones,
// registered as the instance registers them and fed one of everything so
// that every labelled family has a series.
func served(t *testing.T) map[string]bool {
	reg := prometheus.NewRegistry()
	stats := runtime.NewStats(runtime.MetricLabels{Tenant: "public", Namespace: "public/default", Name: "k", FQFN: "public/default/k"}, reg)
	stats.IncReceived()
	m, err := cwmetrics.New(nil, cwmetrics.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	m.UserRecordReceived("s")
	m.SetPending(1)
	m.Request("s", 1, 10, time.Millisecond, "InternalFailure")
	m.EntryError("s", "shardId-000000000000", "ProvisionedThroughputExceededException")
	m.KinesisRecordPut("s", "shardId-000000000000", 1, 10)
	m.UserRecordPut("s", "shardId-000000000000", 10, 1, time.Millisecond)
	m.UserRecordFailed("s", "shardId-000000000000", 1, true)
	m.RecordFailed("encode", "fail")
	m.PutBlocked(time.Millisecond)
	m.SetRateLimit(1, 1)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		n := f.GetName()
		names[n] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = true
			}
		}
	}
	return names
}

// brokerMetrics are the families the dashboard takes from the broker.
var brokerMetrics = []string{"pulsar_subscription_back_log"}

func TestDashboardNamesOnlyServedMetrics(t *testing.T) {
	d := load(t)
	if d.UID == "" {
		t.Error("the dashboard has no uid: an import would make a new one each time")
	}
	have := served(t)
	qs := queries(t, d)
	if len(qs) < 20 {
		t.Fatalf("%d queries: the dashboard lost its panels", len(qs))
	}
	used := map[string]bool{}
	for _, q := range qs {
		for _, n := range metricNames(t, q) {
			used[n] = true
			if !have[n] && !slices.Contains(brokerMetrics, n) {
				t.Errorf("%s names %s, which the sink does not serve", q.where, n)
			}
		}
	}
	// Every family of the sink's own worth watching is on the dashboard.
	for n := range have {
		if strings.HasPrefix(n, "kinesis_sink_") && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") &&
			!strings.HasSuffix(n, "_count") && !used[n] && !used[n+"_bucket"] && !used[n+"_sum"] &&
			n != "kinesis_sink_cloudwatch_datums_published_total" {
			t.Errorf("the dashboard shows nothing of %s", n)
		}
	}
}

func TestDashboardLayout(t *testing.T) {
	d := load(t)
	ids := map[int]bool{}
	var flat []panel
	for _, p := range d.Panels {
		flat = append(flat, p)
		flat = append(flat, p.Panels...)
	}
	for i, a := range flat {
		if a.ID == 0 || ids[a.ID] {
			t.Errorf("panel %q: id %d missing or repeated", a.Title, a.ID)
		}
		ids[a.ID] = true
		g := a.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: grid position %+v outside the 24-column grid", a.Title, g)
		}
		for _, b := range flat[:i] {
			h := b.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", a.Title, b.Title)
			}
		}
	}
}

// TestBrokerMetricsExist scrapes the local broker for the families the
// dashboard takes from it, after making sure a subscription exists.
func TestBrokerMetricsExist(t *testing.T) {
	web, svc := os.Getenv("PULSAR_WEB_URL"), os.Getenv("PULSAR_SERVICE_URL")
	if web == "" || svc == "" {
		if os.Getenv("KS_REQUIRE_SERVICES") != "" {
			t.Fatal("PULSAR_WEB_URL and PULSAR_SERVICE_URL are required")
		}
		t.Skip("no broker: PULSAR_WEB_URL and PULSAR_SERVICE_URL are unset")
	}
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: svc})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := "persistent://public/default/grafana-dashboard-test-" + time.Now().Format("150405.000000")
	c, err := client.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "grafana-dashboard-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The broker computes its metrics for a scrape from the topics it has
	// then; a topic that is new may need a scrape or two to show.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		missing := missingFrom(t, web+"/metrics/", brokerMetrics)
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker at %s serves none of %v", web, missing)
		}
		time.Sleep(2 * time.Second)
	}
}

func missingFrom(t *testing.T, url string, want []string) []string {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	var missing []string
	for _, n := range want {
		if _, ok := fams[n]; !ok {
			missing = append(missing, n)
		}
	}
	return missing
}
