package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func sizeName(n int) string {
	switch {
	case n >= 1024 && n%1024 == 0:
		return fmt.Sprintf("%d KiB", n/1024)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

const tableHeader = "| row | record | records/s | MB/s | CPU s / 1M records | peak RSS MiB | paced records/s | p50 ms | p99 ms |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|"

func rowLine(r Result) string {
	if r.TooShort != "" {
		return fmt.Sprintf("| %s | %s | too short | too short | too short | %.0f | — | — | — |", r.Row, sizeName(r.Size), r.PeakRSSMiB)
	}
	if r.Error != "" && r.RecPerSec == 0 {
		return fmt.Sprintf("| %s | %s | — | — | — | — | — | — | — |", r.Row, sizeName(r.Size))
	}
	lat := func(v float64) string {
		if r.PacedN == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f", v)
	}
	paced := "—"
	if r.PacedN > 0 {
		paced = fmt.Sprintf("%.0f", r.PacedRate)
	}
	return fmt.Sprintf("| %s | %s | %.0f | %.1f | %.2f | %.0f | %s | %s | %s |", r.Row, sizeName(r.Size), r.RecPerSec, r.MBPerSec,
		r.CPUPerM, r.PeakRSSMiB, paced, lat(r.P50Ms), lat(r.P99Ms))
}

// The at-the-limit rows have their own table: what Kinesis took as a share
// of the shards' limits, and how much it refused.
const limitHeader = "| row | record | records/s | MB/s | of shard limit | entries throttled | CPU s / 1M records | peak RSS MiB | paced records/s | p50 ms | p99 ms |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

func limitLine(r Result) string {
	if r.TooShort != "" {
		return fmt.Sprintf("| %s | %s | too short | too short | too short | too short | too short | %.0f | — | — | — |", r.Row, sizeName(r.Size), r.PeakRSSMiB)
	}
	if r.Error != "" && r.RecPerSec == 0 {
		return fmt.Sprintf("| %s | %s | — | — | — | — | — | — | — | — | — |", r.Row, sizeName(r.Size))
	}
	throttled := "—"
	if r.ThrottledPct != nil {
		throttled = fmt.Sprintf("%.2f%%", *r.ThrottledPct)
	}
	paced, p50, p99 := "—", "—", "—"
	if r.PacedN > 0 {
		paced, p50, p99 = fmt.Sprintf("%.0f", r.PacedRate), fmt.Sprintf("%.1f", r.P50Ms), fmt.Sprintf("%.1f", r.P99Ms)
	}
	return fmt.Sprintf("| %s | %s | %.0f | %.2f | %.1f%% | %s | %.2f | %.0f | %s | %s | %s |", r.Row, sizeName(r.Size), r.RecPerSec, r.MBPerSec,
		r.OfLimit*100, throttled, r.CPUPerM, r.PeakRSSMiB, paced, p50, p99)
}

func printRow(r Result, prev *Result) {
	if r.Endpoint == "limit" {
		if prev == nil || prev.Endpoint != "limit" {
			fmt.Println(limitHeader)
		}
		fmt.Println(limitLine(r))
	} else {
		if prev == nil || prev.Endpoint == "limit" {
			fmt.Println(tableHeader)
		}
		fmt.Println(rowLine(r))
	}
	if r.Error != "" {
		fmt.Printf("  ! %s\n", strings.ReplaceAll(r.Error, "\n", "\n    "))
	}
	if r.TooShort != "" {
		fmt.Printf("  ! no figures: %s\n", r.TooShort)
	}
}

// printTable prints the whole run as one markdown table (what docs/benchmarks.md
// holds), errors below it.
func printTable(rep *Report) {
	m := rep.Machine
	fmt.Printf("Machine: %d CPUs, %s, %.1f GiB, Linux %s, %s; load average %s at start, %s at end\n",
		m.CPUs, m.Model, m.MemoryGiB, m.Kernel, m.Go, m.LoadStart, m.LoadEnd)
	fmt.Println(tableHeader)
	var limit []Result
	for _, r := range rep.Results {
		if r.Endpoint == "limit" {
			limit = append(limit, r)
			continue
		}
		fmt.Println(rowLine(r))
	}
	if len(limit) > 0 {
		fmt.Printf("\nAt the limit: %d-shard streams in kinesalite behind the fault proxy's shard limits (1,000 records/s and 1 MiB/s per shard), both sinks at their default rateLimit; paced at 0.9 of the drain rate:\n\n", rep.Shards)
		fmt.Println(limitHeader)
		for _, r := range limit {
			fmt.Println(limitLine(r))
		}
	}
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Printf("\n%s, %s: %s\n", r.Row, sizeName(r.Size), r.Error)
		}
		if r.TooShort != "" {
			fmt.Printf("\n%s, %s: no figures: %s\n", r.Row, sizeName(r.Size), r.TooShort)
		}
	}
	fmt.Println()
}

// bestCeiling is the fastest consume-only configuration at size.
func bestCeiling(rep *Report, size int) *Result {
	var best *Result
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Sink == "ceiling" && r.Size == size && r.RecPerSec > 0 && (best == nil || r.RecPerSec > best.RecPerSec) {
			best = r
		}
	}
	return best
}

func find(rep *Report, sink, endpoint string, agg bool, size int) *Result {
	if sink == "ceiling" {
		return bestCeiling(rep, size)
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Sink == sink && r.Endpoint == endpoint && r.Size == size && !strings.Contains(r.Row, "drain") &&
			(sink == "ceiling" || (r.Aggregation != nil && *r.Aggregation == agg)) && r.RecPerSec > 0 {
			return r
		}
	}
	return nil
}

// targets reads issue 6's targets from the results; they are reported,
// never asserted.
func targets(rep *Report) []string {
	var out []string
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	if c, g := find(rep, "ceiling", "none", false, 100), find(rep, "go", "null", true, 100); c != nil && g != nil {
		pct := g.RecPerSec / c.RecPerSec * 100
		if pct > 100 {
			// A sink cannot consume faster than a consumer that does
			// nothing else: the ceiling is wrong, not the sink above it.
			out = append(out, fmt.Sprintf("target: our sink into the do-nothing endpoint, 100 B, aggregation on, >= 85%% of the consume-only ceiling: not measurable: the sink drained %.0f records/s, faster than the best consume-only configuration (%s, %.0f records/s), so that ceiling is no ceiling",
				g.RecPerSec, c.Row, c.RecPerSec))
		} else {
			out = append(out, fmt.Sprintf("target: our sink into the do-nothing endpoint, 100 B, aggregation on, >= 85%% of the consume-only ceiling (best of %s): %.0f%% (%.0f vs %.0f records/s): %s",
				c.Row, pct, g.RecPerSec, c.RecPerSec, mark(pct >= 85)))
		}
	}
	for _, ep := range []string{"null", "kinesalite"} {
		for _, agg := range []bool{true, false} {
			for _, size := range []int{100, 1024, 10240} {
				g, j := find(rep, "go", ep, agg, size), find(rep, "java", ep, agg, size)
				if g == nil || j == nil || g.CPUPerM <= 0 || j.CPUPerM <= 0 || j.PeakRSSMiB <= 0 {
					continue
				}
				cpu := j.CPUPerM / g.CPUPerM
				mem := g.PeakRSSMiB / j.PeakRSSMiB
				out = append(out, fmt.Sprintf("target: vs Java (%s, agg %s, %s): %.1fx its records per CPU second (>= 10x: %s), %.2f of its peak RSS (<= 0.20: %s)",
					ep, onOff(agg), sizeName(size), cpu, mark(cpu >= 10), mem, mark(mem <= 0.2)))
			}
		}
	}
	// The NAR path (issue 12's aim): the JVM and our child together against
	// the Java sink, at 100 B and 1 KiB.
	for _, ep := range []string{"null", "kinesalite"} {
		for _, agg := range []bool{true, false} {
			for _, size := range []int{100, 1024, 10240} {
				n, j := find(rep, "nar", ep, agg, size), find(rep, "java", ep, agg, size)
				if n == nil || j == nil || n.CPUPerM <= 0 || j.CPUPerM <= 0 || j.PeakRSSMiB <= 0 {
					continue
				}
				cpu := j.CPUPerM / n.CPUPerM
				mem := n.PeakRSSMiB / j.PeakRSSMiB
				line := fmt.Sprintf("target: kinesis-go NAR vs Java (%s, agg %s, %s): %.1fx its records per CPU second, %.2f of its peak RSS",
					ep, onOff(agg), sizeName(size), cpu, mem)
				if size <= 1024 {
					line += fmt.Sprintf(" (>= 3x: %s; <= 0.50: %s)", mark(cpu >= 3), mark(mem <= 0.5))
				}
				out = append(out, line)
			}
		}
	}
	for _, r := range rep.Results {
		if strings.Contains(r.Row, "drain") && r.Error == "" {
			out = append(out, fmt.Sprintf("target: peak RSS draining %d records < 100 MiB: %.0f MiB: %s", r.Records, r.PeakRSSMiB, mark(r.PeakRSSMiB < 100)))
		}
	}
	limit := float64(rep.LingerMs + 50)
	for _, r := range rep.Results {
		if r.Sink == "go" && r.Endpoint != "limit" && r.PacedN > 0 && r.P99Ms > 0 {
			out = append(out, fmt.Sprintf("target: p99 <= linger + 50 ms (%.0f ms) at half load, %s %s: %.1f ms: %s", limit, r.Row, sizeName(r.Size), r.P99Ms, mark(r.P99Ms <= limit)))
		}
	}
	for _, agg := range []bool{true, false} {
		for _, size := range []int{100, 1024, 10240} {
			g, j := find(rep, "go", "limit", agg, size), find(rep, "java", "limit", agg, size)
			if g == nil || g.ThrottledPct == nil {
				continue
			}
			line := fmt.Sprintf("target: at the shards' limit (agg %s, %s): %.1f%% of the limit with %.2f%% of entries throttled (>= 95%% with <= 1%%: %s)",
				onOff(agg), sizeName(size), g.OfLimit*100, *g.ThrottledPct, mark(g.OfLimit >= 0.95 && *g.ThrottledPct <= 1))
			if j != nil && j.ThrottledPct != nil {
				line += fmt.Sprintf("; the Java sink (KPL): %.1f%% with %.2f%% throttled (ahead on both: %s)",
					j.OfLimit*100, *j.ThrottledPct, mark(g.OfLimit >= j.OfLimit && *g.ThrottledPct <= *j.ThrottledPct))
			}
			out = append(out, line)
		}
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// drawChart draws records/s, CPU seconds per million records, peak RSS and
// p99 latency for every row, grouped by record size, on log scales.
func drawChart(rep *Report, path string) error {
	var sizes []int
	var rows []string
	for _, r := range rep.Results {
		if strings.Contains(r.Row, "drain") {
			continue
		}
		if !containsInt(sizes, r.Size) {
			sizes = append(sizes, r.Size)
		}
		if !containsStr(rows, r.Row) {
			rows = append(rows, r.Row)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	value := func(row string, size int, f func(Result) float64) float64 {
		for _, r := range rep.Results {
			if r.Row == row && r.Size == size && r.RecPerSec > 0 {
				return f(r)
			}
		}
		return 0
	}
	// Bars grow from zero, which a log scale has not: the bars are drawn as
	// log10(value/floor) on a linear axis labelled with the real values.
	mk := func(title, ylabel string, floor float64, f func(Result) float64) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.Y.Label.Text = ylabel
		p.Y.Tick.Marker = logLabels{floor}
		p.Y.Min = 0
		p.Legend.Top = true
		p.Legend.Left = false
		p.Legend.XOffs = vg.Points(-4)
		w := vg.Points(float64(520) / float64(len(rows)*len(sizes)+len(sizes)))
		names := make([]string, len(sizes))
		for i, s := range sizes {
			names[i] = sizeName(s)
		}
		top := 1.0
		for i, row := range rows {
			vals := make(plotter.Values, len(sizes))
			for j, s := range sizes {
				vals[j] = math.Max(math.Log10(value(row, s, f)/floor), 0) // a missing bar is empty
				top = math.Max(top, vals[j])
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return nil, err
			}
			bars.Offset = vg.Length(float64(i)-float64(len(rows)-1)/2) * w
			bars.Color = palette(i)
			bars.LineStyle.Width = 0
			p.Add(bars)
			p.Legend.Add(row, bars)
		}
		p.NominalX(names...)
		p.Y.Max = math.Ceil(top + 0.3) // room for the legend
		return p, nil
	}
	p1, err := mk("Records per second (drain of a pre-filled backlog; log scale)", "records/s", 100, func(r Result) float64 { return r.RecPerSec })
	if err != nil {
		return err
	}
	p2, err := mk("CPU seconds per million records (lower is better; log scale)", "CPU s / 1M records", 0.1, func(r Result) float64 { return r.CPUPerM })
	if err != nil {
		return err
	}
	p3, err := mk("Peak RSS of the process tree (lower is better; log scale)", "MiB", 1, func(r Result) float64 { return r.PeakRSSMiB })
	if err != nil {
		return err
	}
	p4, err := mk("p99 publish to acceptance, paced run (lower is better; log scale)", "ms", 1, func(r Result) float64 { return r.P99Ms })
	if err != nil {
		return err
	}
	for _, p := range []*plot.Plot{p2, p3, p4} {
		p.Legend = plot.NewLegend() // one legend is enough
	}
	const width, height = 18 * vg.Inch, 12 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 2, Cols: 2, PadTop: vg.Points(8), PadBottom: vg.Points(8), PadX: vg.Points(12), PadY: vg.Points(12)}
	canvases := plot.Align([][]*plot.Plot{{p1, p2}, {p3, p4}}, t, dc)
	p1.Draw(canvases[0][0])
	p2.Draw(canvases[0][1])
	p3.Draw(canvases[1][0])
	p4.Draw(canvases[1][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	return err
}

// logLabels labels a log10(value/floor) axis with the values at powers of
// ten.
type logLabels struct{ floor float64 }

func (l logLabels) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for k := math.Floor(lo); k <= math.Ceil(hi)+1; k++ {
		v := l.floor * math.Pow(10, k)
		ts = append(ts, plot.Tick{Value: k, Label: humanNum(v)})
		for m := 2.0; m < 10; m++ {
			ts = append(ts, plot.Tick{Value: k + math.Log10(m)})
		}
	}
	return ts
}

func humanNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", v)
	}
}

func palette(i int) color.Color {
	cs := []color.Color{
		color.RGBA{0x44, 0x44, 0x44, 0xff}, // ceiling
		color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0x9e, 0xc9, 0xe9, 0xff},
		color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xa6, 0xdb, 0xa0, 0xff},
		color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0xf4, 0xa5, 0xa5, 0xff},
		color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0xff, 0xc8, 0x8a, 0xff},
	}
	if i < len(cs) {
		return cs[i]
	}
	return plotutil.Color(i)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
