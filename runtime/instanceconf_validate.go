package runtime

// Validating a built InstanceConfig: every error is one line naming the
// key that gave the value.

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/pb"
)

// validate checks what an assembled config must satisfy to run this sink,
// identity and endpoints first: later messages are easier to read once
// these are known good.
func (b *builtConf) validate() error {
	c := b.c
	for _, f := range []struct{ key, val string }{
		{"tenant", c.Tenant}, {"nameSpace", c.Namespace}, {"name", c.Name},
	} {
		if strings.TrimSpace(f.val) == "" {
			return confErrorf("%q: is required (the function's tenant/namespace/name), got none", f.key)
		}
		if strings.Contains(f.val, "/") {
			return confErrorf("%q: must not contain '/', got %q", f.key, f.val)
		}
	}
	if err := checkServiceURL(c.ServiceURL); err != nil {
		return err
	}
	if b.instanceID < 0 {
		return confErrorf("%q: must be >= 0, got %d", "instanceID", b.instanceID)
	}
	if c.Port < 1 || c.Port > 65535 {
		return confErrorf("%q: must be 1-65535, got %d", "port", c.Port)
	}
	if c.MetricsPort < 0 || c.MetricsPort > 65535 {
		return confErrorf("%q: must be 0-65535 (0 = no metrics server), got %d", "metricsPort", c.MetricsPort)
	}
	if c.MaxBufTuples < 0 {
		return confErrorf("%q: must be >= 0, got %d", "maxBufTuples", c.MaxBufTuples)
	}
	if b.killAfterIdleMs < 0 || b.killAfterIdleMs > maxDurationMs {
		return confErrorf("%q: must be 0 (never) to %d milliseconds, got %d", "killAfterIdleMs", maxDurationMs, b.killAfterIdleMs)
	}

	if b.runtime != 0 && b.runtime != int32(pb.FunctionDetails_GO) {
		return confErrorf("%q: must be 3 (GO) for this Go binary, got %d (%s)", b.runtimeKey, b.runtime, pb.FunctionDetails_Runtime(b.runtime))
	}

	switch pb.ProcessingGuarantees(b.guarantees) {
	case pb.ProcessingGuarantees_ATLEAST_ONCE, pb.ProcessingGuarantees_ATMOST_ONCE, pb.ProcessingGuarantees_MANUAL:
	case pb.ProcessingGuarantees_EFFECTIVELY_ONCE:
		return confErrorf("%q: EFFECTIVELY_ONCE is not supported by Go instances (Kinesis has no transactions); use ATLEAST_ONCE", b.guaranteesKey)
	default:
		return confErrorf("%q: must be 0 (ATLEAST_ONCE), 1 (ATMOST_ONCE) or 3 (MANUAL), got %d", b.guaranteesKey, b.guarantees)
	}
	if !c.AutoAck && c.ProcessingGuarantees != Manual {
		// The official Go instance panics here too (PIP apache/pulsar#15560):
		// with autoAck off nothing would ack under these guarantees.
		return confErrorf("%q: false is not supported with processingGuarantees %s; use processingGuarantees MANUAL or autoAck=true",
			"autoAck", pb.ProcessingGuarantees(b.guarantees))
	}
	if b.parallelism < 0 {
		return confErrorf("%q: must be >= 1 (0 means 1), got %d", b.parallelismKey, b.parallelism)
	}

	if err := checkAuth(c.AuthPlugin, c.AuthParams); err != nil {
		return err
	}
	if c.SinkTopic != "" {
		return confErrorf("%q: this function has an output topic (%q) but this binary is a sink and writes only to Kinesis; deploy with no output topic",
			b.sinkTopicKey, c.SinkTopic)
	}
	if len(c.Inputs) == 0 {
		return confErrorf("%q: no input topic: give sourceInputSpecs, sourceSpecsTopic or functionDetails.source.inputSpecs", "sourceInputSpecs")
	}

	if b.subType < 0 || b.subType > int32(KeyShared) {
		return confErrorf("%q: must be 0 (SHARED), 1 (FAILOVER) or 2 (KEY_SHARED), got %d", b.subTypeKey, b.subType)
	}
	switch {
	case c.RetainOrdering && c.RetainKeyOrdering:
		return confErrorf("%q: retainOrdering and retainKeyOrdering are both true; set at most one", "functionDetails.retainKeyOrdering")
	case c.RetainOrdering && c.SubscriptionType != Failover:
		return confErrorf("%q: retainOrdering needs a FAILOVER subscription, got %s", b.subTypeKey, pb.SubscriptionType(b.subType))
	case c.RetainKeyOrdering && c.SubscriptionType != KeyShared:
		return confErrorf("%q: retainKeyOrdering needs a KEY_SHARED subscription, got %s", b.subTypeKey, pb.SubscriptionType(b.subType))
	}
	if b.subPos < 0 || b.subPos > int32(Earliest) {
		return confErrorf("%q: must be 0 (LATEST) or 1 (EARLIEST), got %d", b.subPosKey, b.subPos)
	}
	return nil
}

func checkServiceURL(s string) error {
	if err := CheckServiceURL(strconv.Quote("pulsarServiceURL"), s); err != nil {
		return confErrorf("%s", err.Error())
	}
	return nil
}

// CheckServiceURL is the one rule for a broker URL, whoever gave it: what
// names the source in the message (a key of the instance conf, quoted, or a
// command-line flag), so the user is told which setting to fix. A bare
// host:port is the common slip (pulsar-admin's own examples are URLs, but
// broker host names are often quoted without one), so it gets the URL to use.
func CheckServiceURL(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: is required (the broker URL, e.g. pulsar://broker:6650), got none", what)
	}
	if !strings.Contains(s, "://") && looksLikeHostPort(s) {
		return fmt.Errorf("%s: %q has no scheme; use pulsar://%s (or pulsar+ssl://%[2]s for TLS)", what, s, s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s: must be a pulsar://, pulsar+ssl://, http:// or https:// URL with a host, got %q", what, s)
	}
	switch u.Scheme {
	case "pulsar", "pulsar+ssl", "http", "https":
		return nil
	}
	return fmt.Errorf("%s: must use scheme pulsar, pulsar+ssl, http or https, got %q", what, s)
}

// looksLikeHostPort is true for "broker", "broker:6650" or "10.0.0.1:6650",
// and false for what is not an address at all (an unexpanded
// ${brokerServiceURL}), which must not be offered as pulsar://${...}.
func looksLikeHostPort(s string) bool {
	u, err := url.Parse("pulsar://" + s)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return false
	}
	for _, r := range u.Host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return false
		}
	}
	return true
}

// checkAuth refuses the one real contradiction in the auth keys: half a
// configuration. The worker writes the pair only when both are non-blank,
// so a lone half comes from a hand-edited conf and would otherwise connect
// unauthenticated (or fail later with a less clear broker error). The
// parameters are never echoed: they hold tokens and key paths.
// tlsAllowInsecureConnection with tlsHostnameVerificationEnable is allowed:
// verification of the host name of an untrusted certificate is pointless but
// harmless, and the worker writes both booleans unconditionally.
func checkAuth(plugin, params string) error {
	hasParams := strings.TrimSpace(params) != ""
	switch {
	case plugin == "" && hasParams:
		return confErrorf("%q: is empty but clientAuthenticationParameters is set; set both or neither", "clientAuthenticationPlugin")
	case plugin != "" && !hasParams && !strings.HasSuffix(plugin, "AuthenticationDisabled"):
		return confErrorf("%q: is empty but clientAuthenticationPlugin %q needs parameters; set both or neither", "clientAuthenticationParameters", plugin)
	}
	return nil
}
