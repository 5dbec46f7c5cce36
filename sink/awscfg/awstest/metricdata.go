package awstest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Datum is one MetricData member of a PutMetricData request.
type Datum struct {
	MetricName string
	// Dimensions maps dimension name to value.
	Dimensions map[string]string
	Unit       string
	Timestamp  string
	// StatisticValues.
	SampleCount, Sum, Minimum, Maximum float64
	// HasStats says StatisticValues was present.
	HasStats bool
}

// DimensionNames returns the datum's dimension names, sorted.
func (d Datum) DimensionNames() []string {
	return slices.Sorted(maps.Keys(d.Dimensions))
}

// MetricData decodes a query-protocol PutMetricData call: its namespace and
// datums in request order.
func MetricData(c Call) (string, []Datum, error) {
	if c.Form == nil || c.Action != "PutMetricData" {
		return "", nil, fmt.Errorf("not a query-protocol PutMetricData call (action %q)", c.Action)
	}
	byIndex := map[int]*Datum{}
	dims := map[int]map[int][2]string{}
	for key, vals := range c.Form {
		rest, ok := strings.CutPrefix(key, "MetricData.member.")
		if !ok || len(vals) == 0 {
			continue
		}
		idxText, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idxText)
		if err != nil {
			return "", nil, fmt.Errorf("bad member index in %q", key)
		}
		d := byIndex[i]
		if d == nil {
			d = &Datum{Dimensions: map[string]string{}}
			byIndex[i] = d
		}
		v := vals[0]
		switch {
		case field == "MetricName":
			d.MetricName = v
		case field == "Unit":
			d.Unit = v
		case field == "Timestamp":
			d.Timestamp = v
		case strings.HasPrefix(field, "StatisticValues."):
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return "", nil, fmt.Errorf("bad number in %s=%q", key, v)
			}
			d.HasStats = true
			switch strings.TrimPrefix(field, "StatisticValues.") {
			case "SampleCount":
				d.SampleCount = f
			case "Sum":
				d.Sum = f
			case "Minimum":
				d.Minimum = f
			case "Maximum":
				d.Maximum = f
			}
		case strings.HasPrefix(field, "Dimensions.member."):
			dimRest := strings.TrimPrefix(field, "Dimensions.member.")
			jText, part, _ := strings.Cut(dimRest, ".")
			j, err := strconv.Atoi(jText)
			if err != nil {
				return "", nil, fmt.Errorf("bad dimension index in %q", key)
			}
			if dims[i] == nil {
				dims[i] = map[int][2]string{}
			}
			nv := dims[i][j]
			if part == "Name" {
				nv[0] = v
			} else {
				nv[1] = v
			}
			dims[i][j] = nv
		}
	}
	var out []Datum
	for _, i := range slices.Sorted(maps.Keys(byIndex)) {
		d := byIndex[i]
		for _, nv := range dims[i] {
			d.Dimensions[nv[0]] = nv[1]
		}
		out = append(out, *d)
	}
	return c.Form.Get("Namespace"), out, nil
}
