package conf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const fuzzSecret = "fuzzSECRETvalue-Zq9x"

var fuzzParam = `{"accessKey":"fuzzACCESS-Kp2","secretKey":"` + fuzzSecret + `"}`

func fuzzLookup(name string) (string, bool) {
	return fuzzParam, name == "awsCredentialPluginParam"
}

// checkOutcome holds what any load must satisfy, whatever the input: one-line
// errors with the prefix, no secret in errors, warnings or printing unless the
// input itself carried it elsewhere, and a loaded config that validates.
func checkOutcome(t *testing.T, input []byte, c *Config, warns []string, err error) {
	t.Helper()
	leakOK := bytes.Contains(input, []byte(fuzzSecret))
	if err != nil {
		msg := err.Error()
		if strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("multi-line error %q", msg)
		}
		if !strings.HasPrefix(msg, "sink config") {
			t.Fatalf("error without prefix: %q", msg)
		}
		if !leakOK && strings.Contains(msg, fuzzSecret) {
			t.Fatalf("secret in error: %q", msg)
		}
	}
	for _, w := range warns {
		if strings.ContainsAny(w, "\r\n") || (!leakOK && strings.Contains(w, fuzzSecret)) {
			t.Fatalf("bad warning %q", w)
		}
	}
	if err == nil {
		if c == nil {
			t.Fatal("nil config without error")
		}
		if verr := c.Validate(); verr != nil {
			t.Fatalf("loaded config fails Validate: %v", verr)
		}
		if out := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(out, fuzzSecret) {
			t.Fatalf("secret printed: %s", out)
		}
		for _, f := range []func() (string, error){c.KinesisEndpointURL, c.STSEndpointURL, c.CloudWatchEndpointURL} {
			if _, uerr := f(); uerr != nil {
				t.Fatalf("validated config has a bad endpoint: %v", uerr)
			}
		}
		c.RecordTTLDuration()
	}
}

func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(`{"awsRegion":"us-east-1","awsKinesisStreamName":"s"}`))
	f.Add([]byte(`{"awsEndpoint":"localhost:4567","cloudwatchEndpoint":"http://[::1]:1","awsKinesisStreamName":"s","collectionMaxCount":"7"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		if dec.Decode(&m) != nil {
			return
		}
		for _, secret := range []func(string) (string, bool){nil, fuzzLookup} {
			c, w, err := FromMap(m, secret)
			checkOutcome(t, data, c, w, err)
		}
	})
}

func FuzzFromYAML(f *testing.F) {
	f.Add([]byte("awsRegion: us-east-1\nawsKinesisStreamName: s\n"))
	f.Add([]byte("tenant: t\nconfigs:\n  awsRegion: us-east-1\n  awsKinesisStreamName: s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, w, err := fromBytes("fuzz.yaml", data, fuzzLookup)
		checkOutcome(t, data, c, w, err)
	})
}
