package awscfg

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// sdkLogger carries the AWS SDK's own log lines (the instance metadata
// client's "falling back to IMDSv1", a retry's note) into the sink's
// logger, so that they come out in its format with its attributes instead
// of on stderr in the SDK's.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}
