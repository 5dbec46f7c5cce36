package deploy

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// FunctionStatus is the worker's FunctionStatus (GET .../status).
type FunctionStatus struct {
	NumInstances int `json:"numInstances"`
	NumRunning   int `json:"numRunning"`
	Instances    []struct {
		InstanceID int `json:"instanceId"`
		Status     struct {
			Running                  bool            `json:"running"`
			Error                    string          `json:"error"`
			NumRestarts              int64           `json:"numRestarts"`
			NumReceived              int64           `json:"numReceived"`
			NumSuccessfullyProcessed int64           `json:"numSuccessfullyProcessed"`
			NumUserExceptions        int64           `json:"numUserExceptions"`
			LatestUserExceptions     []ExceptionInfo `json:"latestUserExceptions"`
			NumSystemExceptions      int64           `json:"numSystemExceptions"`
			LatestSystemExceptions   []ExceptionInfo `json:"latestSystemExceptions"`
			AverageLatency           float64         `json:"averageLatency"`
			LastInvocationTime       int64           `json:"lastInvocationTime"`
			WorkerID                 string          `json:"workerId"`
		} `json:"status"`
	} `json:"instances"`
}

// ExceptionInfo is one of the latest exceptions an instance reports.
type ExceptionInfo struct {
	ExceptionString string `json:"exceptionString"`
	TimestampMs     int64  `json:"timestampMs"`
}

func printStatus(w io.Writer, id functionID, st *FunctionStatus) {
	fmt.Fprintf(w, "function %s: %d of %d instances running\n", id, st.NumRunning, st.NumInstances)
	if len(st.Instances) == 0 {
		return
	}
	sort.Slice(st.Instances, func(i, j int) bool { return st.Instances[i].InstanceID < st.Instances[j].InstanceID })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tRUNNING\tRECEIVED\tPROCESSED\tUSER EXC\tSYSTEM EXC\tRESTARTS\tAVG LATENCY\tLAST INVOCATION\tWORKER")
	for _, in := range st.Instances {
		s := in.Status
		last := "-"
		if s.LastInvocationTime > 0 {
			last = deployTime(s.LastInvocationTime).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%t\t%d\t%d\t%d\t%d\t%d\t%.1f ms\t%s\t%s\n", in.InstanceID, s.Running, s.NumReceived,
			s.NumSuccessfullyProcessed, s.NumUserExceptions, s.NumSystemExceptions, s.NumRestarts, s.AverageLatency, last, s.WorkerID)
	}
	tw.Flush()
	for _, in := range st.Instances {
		s := in.Status
		if s.Error != "" {
			fmt.Fprintf(w, "instance %d error: %s\n", in.InstanceID, strings.Join(strings.Fields(s.Error), " "))
		}
		for _, e := range s.LatestUserExceptions {
			fmt.Fprintf(w, "instance %d user exception at %s: %s\n", in.InstanceID, deployMsTime(e.TimestampMs), strings.Join(strings.Fields(e.ExceptionString), " "))
		}
		for _, e := range s.LatestSystemExceptions {
			fmt.Fprintf(w, "instance %d system exception at %s: %s\n", in.InstanceID, deployMsTime(e.TimestampMs), strings.Join(strings.Fields(e.ExceptionString), " "))
		}
	}
}

// deployTime reads lastInvocationTime, which instances report in
// milliseconds; the official Go instance reported nanoseconds.
func deployTime(v int64) time.Time {
	if v > 1e15 {
		return time.Unix(0, v)
	}
	return time.UnixMilli(v)
}

func deployMsTime(ms int64) string {
	if ms <= 0 {
		return "?"
	}
	return deployTime(ms).UTC().Format(time.RFC3339)
}

// statusRestarted reports a visible difference that only a restart makes.
func statusRestarted(before, now *FunctionStatus) bool {
	if now.NumInstances != before.NumInstances || now.NumRunning < now.NumInstances || len(now.Instances) != len(before.Instances) {
		return true
	}
	prev := map[int]int64{}
	for _, in := range before.Instances {
		prev[in.InstanceID] = in.Status.NumReceived
	}
	for _, in := range now.Instances {
		if p, ok := prev[in.InstanceID]; !ok || in.Status.NumReceived < p || !in.Status.Running {
			return true
		}
	}
	return false
}
