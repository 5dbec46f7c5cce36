package awscfg

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// TestSDKLogLinesGoThroughTheSinkLogger: the default chain's instance
// metadata client warns when IMDSv2 tokens are refused; that line must come
// through the sink's logger, not the SDK's stderr logger.
func TestSDKLogLinesGoThroughTheSinkLogger(t *testing.T) {
	isolateAWSEnv(t)
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r) // no token (IMDSv1 only), and no role either
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)

	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	cfg := javaConfig(t, "http://127.0.0.1:1", "us-east-1", conf.DefaultChainPlugin, "")
	_, newErr := New(context.Background(), cfg, Options{Logger: log})
	os.Stderr = stderr
	w.Close()
	onStderr, _ := io.ReadAll(r)

	if newErr == nil {
		t.Fatal("New succeeded with no credentials anywhere")
	}
	if len(onStderr) > 0 {
		t.Errorf("the SDK wrote to stderr:\n%s", onStderr)
	}
	if out := logged.String(); !strings.Contains(out, "falling back to IMDSv1") || !strings.Contains(out, "component=aws-sdk") ||
		!strings.Contains(out, "level=WARN") {
		t.Errorf("the SDK's warning did not come through the sink's logger:\n%s", out)
	}
}
