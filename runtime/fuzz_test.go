package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fuzzAuthSecret = "fuzzAUTHtoken-Hq7w"

// FuzzLoadInstanceConfig feeds arbitrary -instance-conf text to the parser
// the worker and Function Mesh confs go through. Whatever the input: no
// panic, either a config or one error line starting with "instance conf:",
// never both, and the authentication parameters never shown in the error.
// A config that loads is usable: valid ports, an input topic, a name.
func FuzzLoadInstanceConfig(f *testing.F) {
	// The captured worker, Function Mesh and older-worker confs.
	files, _ := filepath.Glob(filepath.Join(instanceConfDir, "*.json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`{"pulsarServiceURL":"pulsar://h:6650","tenant":"t","nameSpace":"n","name":"f","sourceSpecsTopic":"in","port":9093,` +
		`"clientAuthenticationPlugin":"org.apache.pulsar.client.impl.auth.AuthenticationToken","clientAuthenticationParameters":"token:` + fuzzAuthSecret + `"}`)
	f.Add(`{"functionDetails":"{\"tenant\":\"t\",\"namespace\":\"n\",\"name\":\"f\",\"source\":{\"inputSpecs\":{\"in\":{\"isRegexPattern\":true}}}}","pulsarServiceURL":"pulsar+ssl://h:6651"}`)
	f.Add(`'{"port":"1"}'`)
	f.Fuzz(func(t *testing.T, conf string) {
		c, err := LoadInstanceConfig(conf, "")
		if err != nil {
			if c != nil {
				t.Fatal("config and error")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "instance conf: ") {
				t.Fatalf("not one prefixed line: %q", msg)
			}
			// The secret may be echoed only if the input put it somewhere
			// other than the auth parameters.
			var m map[string]any
			if json.Unmarshal([]byte(conf), &m) == nil && strings.Count(conf, fuzzAuthSecret) == 1 {
				if p, _ := m["clientAuthenticationParameters"].(string); strings.Contains(p, fuzzAuthSecret) && strings.Contains(msg, fuzzAuthSecret) {
					t.Fatalf("auth parameters shown: %q", msg)
				}
			}
			return
		}
		if c == nil {
			t.Fatal("no config and no error")
		}
		if c.Port < 0 || c.Port > 65535 || c.MetricsPort < 0 || c.MetricsPort > 65535 {
			t.Fatalf("ports %d/%d", c.Port, c.MetricsPort)
		}
		if len(c.Inputs) == 0 || c.Tenant == "" || c.Namespace == "" || c.Name == "" || c.ServiceURL == "" {
			t.Fatalf("incomplete config loaded: %+v", c)
		}
		if c.ProcessingGuarantees == EffectivelyOnce {
			t.Fatal("EFFECTIVELY_ONCE loaded")
		}
		_ = c.FQFN()
	})
}
