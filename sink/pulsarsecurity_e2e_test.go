package sink_test

// Pulsar authentication and TLS from the instance conf, on a standalone of
// this test's own with token authentication and a TLS port (started by
// scripts/local-env.sh with KS_PULSAR_AUTH=token and KS_PULSAR_TLS_PORT; the
// shared standalone is not touched).

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-kinesis/kinesis-sink/internal/e2e"
	"github.com/pulsar-kinesis/kinesis-sink/internal/testenv"
)

const tokenAuthPlugin = "org.apache.pulsar.client.impl.auth.AuthenticationToken"

// secureConf is a worker-style instance conf for the secure standalone,
// with the given Pulsar URL and changes (nil deletes a key).
func secureConf(t *testing.T, sp *testenv.SecurePulsar, name, url string, port int, topic string, uc map[string]any, change map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e2e.WorkerConf(sp.PulsarEnv, name, port, e2e.FreePort(t), []string{topic}, uc, nil)), &m); err != nil {
		t.Fatal(err)
	}
	m["pulsarServiceURL"] = url
	for k, v := range change {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// forgedToken is a well-formed HS256 token for "admin" signed with a key
// the broker does not know.
func forgedToken() string {
	enc := base64.RawURLEncoding
	msg := enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + enc.EncodeToString([]byte(`{"sub":"admin"}`))
	mac := hmac.New(sha256.New, []byte("not-the-broker-secret-key-000000"))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestPulsarTokenAuthAndTLS(t *testing.T) {
	ks := testenv.Kinesis(t)
	sp := testenv.StartSecurePulsar(t)
	bin := e2e.KinesisSinkBinary(t)
	client := sp.Client(t)
	stream := ks.UniqueStream(t, "secure")
	ks.CreateStream(t, stream, 1)
	token := "token:" + sp.Token

	// works: the instance consumes and acks everything published.
	works := func(t *testing.T, url string, change map[string]any) *e2e.Instance {
		topic := sp.UniqueTopic(t, "secure-in")
		name := uniqueName(t, "secure")
		port := e2e.FreePort(t)
		in := e2e.Start(t, bin, []string{"-instance-conf", secureConf(t, sp, name, url, port, topic, sinkConfig(ks.Endpoint, stream, nil), change)}, nil)
		sub := "public/default/" + name
		sp.WaitFor(t, 90*time.Second, func() bool {
			if !in.Running() {
				t.Fatalf("instance exited: %v\n%s", in.Err, in.Output())
			}
			return e2e.HasSubscription(t, sp.PulsarEnv, topic, sub)
		}, "subscription %s", sub)
		sent := e2e.Produce(t, client, topic, 20, func(i int) string { return fmt.Sprintf("%s-%d", name, i) })
		sp.WaitFor(t, 60*time.Second, func() bool {
			got := map[string]bool{}
			for _, r := range ks.ReadAll(t, stream) {
				got[string(r.Data)] = true
			}
			for _, s := range sent {
				if !got[s] {
					return false
				}
			}
			return true
		}, "the %d records of %s in Kinesis", len(sent), topic)
		sp.WaitFor(t, 30*time.Second, func() bool { return sp.Backlog(t, topic, sub) == 0 }, "backlog of %s to drain (acks)", topic)
		if !in.Running() {
			t.Fatalf("instance exited: %v", in.Err)
		}
		return in
	}
	// refused: the instance exits non-zero with a last line holding want.
	refused := func(t *testing.T, url string, change map[string]any, want ...string) {
		topic := sp.UniqueTopic(t, "secure-in")
		in := e2e.Start(t, bin, []string{"-instance-conf", secureConf(t, sp, uniqueName(t, "secure"), url, e2e.FreePort(t), topic,
			sinkConfig(ks.Endpoint, stream, nil), change)}, nil)
		select {
		case <-in.Done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("instance still running:\n%s", e2e.Tail(in.Output(), 3000))
		}
		if in.Err == nil {
			t.Fatal("exit 0, want a failure")
		}
		out := strings.TrimSpace(in.Output())
		last := out[strings.LastIndex(out, "\n")+1:]
		t.Logf("last line: %s", last)
		for _, w := range want {
			if !strings.Contains(strings.ToLower(last), strings.ToLower(w)) {
				t.Errorf("last line %q lacks %q", last, w)
			}
		}
		if strings.Contains(out, sp.Token) {
			t.Error("the token is in the output")
		}
	}

	t.Run("token", func(t *testing.T) {
		in := works(t, sp.ServiceURL, map[string]any{"clientAuthenticationPlugin": tokenAuthPlugin, "clientAuthenticationParameters": token})
		if strings.Contains(in.Output(), sp.Token) {
			t.Error("the token is in the output")
		}
	})
	t.Run("token over TLS with the certificate trusted", func(t *testing.T) {
		works(t, sp.TLSServiceURL, map[string]any{"clientAuthenticationPlugin": tokenAuthPlugin, "clientAuthenticationParameters": token,
			"tlsTrustCertsFilePath": sp.CertFile, "tlsHostnameVerificationEnable": true})
	})
	t.Run("no token", func(t *testing.T) {
		refused(t, sp.ServiceURL, nil, "authenticat")
	})
	t.Run("wrong token", func(t *testing.T) {
		refused(t, sp.ServiceURL, map[string]any{"clientAuthenticationPlugin": tokenAuthPlugin, "clientAuthenticationParameters": "token:" + forgedToken()},
			"authenticat")
	})
	t.Run("TLS with an untrusted certificate", func(t *testing.T) {
		refused(t, sp.TLSServiceURL, map[string]any{"clientAuthenticationPlugin": tokenAuthPlugin, "clientAuthenticationParameters": token},
			"certificate")
	})
	t.Run("TLS insecure connection allowed explicitly", func(t *testing.T) {
		in := works(t, sp.TLSServiceURL, map[string]any{"clientAuthenticationPlugin": tokenAuthPlugin, "clientAuthenticationParameters": token,
			"tlsAllowInsecureConnection": true})
		if !strings.Contains(in.Output(), "level=WARN") || !strings.Contains(in.Output(), "tlsAllowInsecureConnection") {
			t.Errorf("no warning about tlsAllowInsecureConnection in:\n%s", e2e.Tail(in.Output(), 2000))
		}
	})
}
