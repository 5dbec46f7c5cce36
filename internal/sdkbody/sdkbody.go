// Package sdkbody keeps the AWS SDK from closing a connection under a
// response it is still reading.
//
// The SDK hands net/http a request body that, once the SDK closes it, has
// WriteTo return io.EOF. It closes the body as soon as the response headers
// arrive, and net/http may still be copying the body then: after the last
// byte it copies once more to check the length. An io.EOF from WriteTo is no
// end of file to io.Copy but an error of the copy, so net/http fails the
// write and closes the connection, and the response body, already on its
// way, fails with "use of closed network connection" (aws-sdk-go-v2 issue
// 2737). For PutRecords that
// means records Kinesis stored reported as a failed request and sent again:
// one duplicated batch in a few thousand requests on a fast link. Without
// WriteTo, net/http reads the closed body with Read, which ends with a plain
// io.EOF.
package sdkbody

import (
	"context"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const id = "sdkbody.ReadOnly"

// APIOptions is ReadOnly as a client's APIOptions, a new slice each time.
func APIOptions() []func(*middleware.Stack) error {
	return []func(*middleware.Stack) error{ReadOnly}
}

// ReadOnly is an APIOptions entry: the request body goes to net/http
// without its WriteTo. Adding it to a stack that has it already does
// nothing, so a client's options and a call's may both carry it.
func ReadOnly(stack *middleware.Stack) error {
	if _, ok := stack.Build.Get(id); ok {
		return nil
	}
	return stack.Build.Add(middleware.BuildMiddlewareFunc(id, readOnly), middleware.After)
}

type readSeeker struct{ io.ReadSeeker }

type reader struct{ io.Reader }

func readOnly(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleBuild(ctx, in)
	}
	s := req.GetStream()
	if _, ok := s.(io.WriterTo); !ok {
		return next.HandleBuild(ctx, in)
	}
	var plain io.Reader = reader{s}
	if rs, ok := s.(io.ReadSeeker); ok {
		plain = readSeeker{rs}
	}
	r, err := req.SetStream(plain)
	if err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, err
	}
	in.Request = r
	return next.HandleBuild(ctx, in)
}
