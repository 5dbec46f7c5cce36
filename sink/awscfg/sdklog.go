package awscfg

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// sdkLogger carries the lines the default credential chain logs (the
// instance metadata client's "falling back to IMDSv1") into the sink's
// logger, so that they come out in its format with its attributes instead
// of on stderr in the SDK's. The clients the sink builds log nothing (no
// ClientLogMode).
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}
