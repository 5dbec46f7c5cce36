package e2e

import (
	"net"
	"strconv"
	"testing"
)

// FreePorts returns the first of n consecutive ports on 127.0.0.1 that
// were all free when it looked (for a setting that derives ports from a
// base, as the NAR's sidecarMetricsAddress does per instance).
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	for range 100 {
		base := FreePort(t)
		if base+n-1 > 65535 {
			continue
		}
		var held []net.Listener
		ok := true
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1 in 100 tries", n)
	return 0
}
