package kinesisfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Error codes the model answers with, as Kinesis spells them.
const (
	CodeThrottled          = "ProvisionedThroughputExceededException"
	CodeInternalFailure    = "InternalFailure" // per entry
	CodeInternalFailureReq = "InternalFailureException"
	CodeInvalidArgument    = "InvalidArgumentException"
	CodeValidation         = "ValidationException"
	CodeSerialization      = "SerializationException"
	CodeResourceNotFound   = "ResourceNotFoundException"
	CodeResourceInUse      = "ResourceInUseException"
	CodeLimitExceeded      = "LimitExceededException"
	CodeExpiredIterator    = "ExpiredIteratorException"
	CodeAccessDenied       = "AccessDeniedException"
	CodeUnknownOperation   = "UnknownOperationException"
	CodeServiceUnavailable = "ServiceUnavailable"
)

// APIError is a whole-request error answer: what Kinesis sends as an HTTP
// error status with a JSON body {"__type": Code, "message": Message}.
type APIError struct {
	Code    string
	Message string
	// Status is the HTTP status; 0 means the one Kinesis uses for Code.
	Status int
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// ErrorCode, ErrorMessage and ErrorFault make an APIError a smithy.APIError,
// so that the model's own methods' errors read as the SDK's do.
func (e *APIError) ErrorCode() string    { return e.Code }
func (e *APIError) ErrorMessage() string { return e.Message }
func (e *APIError) ErrorFault() smithy.ErrorFault {
	if e.HTTPStatus() >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// HTTPStatus is the status the error is answered with.
func (e *APIError) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case CodeInternalFailureReq, CodeInternalFailure:
		return http.StatusInternalServerError
	case CodeServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func apiErr(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// sdkAPIError is the error value the SDK's deserializer makes of a code:
// the modeled exception type where Kinesis has one, else a generic error.
// Tests and the producer match on either (errors.As, smithy.APIError).
func (e *APIError) sdkAPIError() error {
	m := &e.Message
	switch e.Code {
	case CodeThrottled:
		return &types.ProvisionedThroughputExceededException{Message: m}
	case CodeInvalidArgument:
		return &types.InvalidArgumentException{Message: m}
	case CodeValidation:
		return &types.ValidationException{Message: m}
	case CodeResourceNotFound:
		return &types.ResourceNotFoundException{Message: m}
	case CodeResourceInUse:
		return &types.ResourceInUseException{Message: m}
	case CodeLimitExceeded:
		return &types.LimitExceededException{Message: m}
	case CodeExpiredIterator:
		return &types.ExpiredIteratorException{Message: m}
	case CodeAccessDenied:
		return &types.AccessDeniedException{Message: m}
	case CodeInternalFailureReq:
		return &types.InternalFailureException{Message: m}
	case "KMSThrottlingException":
		return &types.KMSThrottlingException{Message: m}
	case "KMSAccessDeniedException":
		return &types.KMSAccessDeniedException{Message: m}
	case "KMSDisabledException":
		return &types.KMSDisabledException{Message: m}
	case "KMSInvalidStateException":
		return &types.KMSInvalidStateException{Message: m}
	case "KMSNotFoundException":
		return &types.KMSNotFoundException{Message: m}
	case "KMSOptInRequired":
		return &types.KMSOptInRequired{Message: m}
	}
	return &smithy.GenericAPIError{Code: e.Code, Message: e.Message, Fault: e.ErrorFault()}
}

// sdkError wraps e as the SDK returns a service error from an operation:
// OperationError, then the HTTP response error carrying the status and
// request id, then the API error; so that errors.As for
// *smithyhttp.ResponseError and smithy.APIError behave as over HTTP.
func (e *APIError) sdkError(op, requestID string) error {
	resp := &http.Response{StatusCode: e.HTTPStatus(), Header: http.Header{}}
	resp.Header.Set("X-Amzn-Requestid", requestID)
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: e.sdkAPIError()},
		RequestID:     requestID,
	}}
}

// transportError is a call that got no HTTP answer: the endpoint refused
// the connection or reset it.
type transportError struct {
	reset bool // reset after the request was sent; else refused
}

func (e *transportError) Error() string {
	if e.reset {
		return "connection reset by peer"
	}
	return "connection refused"
}

// sdkError is what the SDK returns when the HTTP client fails: a
// RequestSendError around the net error.
func (e *transportError) sdkError(op string) error {
	var inner error = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	if e.reset {
		inner = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	}
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: op,
		Err: &smithyhttp.RequestSendError{Err: inner}}
}

// ctxError is the SDK's error for a call whose context ended first; it
// unwraps to ctx.Err() so that errors.Is(err, context.DeadlineExceeded)
// holds as it does for the SDK.
func ctxError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: op,
		Err: &smithyhttp.RequestSendError{Err: fmt.Errorf("request canceled: %w", err)}}
}

// toSDK turns a core error into what an SDK caller sees.
func toSDK(op, requestID string, err error) error {
	var ae *APIError
	var te *transportError
	switch {
	case errors.As(err, &ae):
		return ae.sdkError(op, requestID)
	case errors.As(err, &te):
		return te.sdkError(op)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ctxError(op, err)
	}
	return err
}
