package kinesisfake

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

// Client is the model as a *kinesis.Client looks to its callers, in
// memory: the same methods, inputs and outputs, and errors of the same
// shape (see APIError.sdkError), so that the producer (its PutRecordsAPI)
// and tests can use it in place of the SDK's client. The SDK's options
// (optFns) are ignored: there is no HTTP, signing or SDK retry here.
type Client struct {
	m *Model
}

// Client returns the model's in-memory client.
func (m *Model) Client() *Client { return &Client{m: m} }

func answer[T any](op string, out T, c *call, err error) (T, error) {
	if err != nil {
		var zero T
		id := ""
		if c != nil {
			id = c.id
		}
		return zero, toSDK(op, id, err)
	}
	return out, nil
}

// validatePutRecordsParams is the SDK's client-side check of a PutRecords
// input, made before anything is sent: Records and each entry's Data are
// required (a nil slice, not an empty one).
func validatePutRecordsParams(in *kinesis.PutRecordsInput) error {
	ip := smithy.InvalidParamsError{Context: "PutRecordsInput"}
	if in.Records == nil {
		ip.Add(smithy.NewErrParamRequired("Records"))
	} else {
		list := smithy.InvalidParamsError{Context: "PutRecordsRequestEntryList"}
		for i := range in.Records {
			if in.Records[i].Data == nil {
				e := smithy.InvalidParamsError{Context: "PutRecordsRequestEntry"}
				e.Add(smithy.NewErrParamRequired("Data"))
				list.AddNested(fmt.Sprintf("[%d]", i), e)
			}
		}
		if list.Len() > 0 {
			ip.AddNested("Records", list)
		}
	}
	if ip.Len() > 0 {
		return &smithy.OperationError{ServiceID: "Kinesis", OperationName: "PutRecords", Err: ip}
	}
	return nil
}

func (c *Client) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if err := validatePutRecordsParams(in); err != nil {
		return nil, err
	}
	out, call, err := c.m.putRecords(ctx, in)
	return answer("PutRecords", out, call, err)
}

func (c *Client) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	out, call, err := c.m.listShards(ctx, in)
	return answer("ListShards", out, call, err)
}

func (c *Client) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	out, call, err := c.m.describeStreamSummary(ctx, in)
	return answer("DescribeStreamSummary", out, call, err)
}

func (c *Client) DescribeStream(ctx context.Context, in *kinesis.DescribeStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error) {
	out, call, err := c.m.describeStream(ctx, in)
	return answer("DescribeStream", out, call, err)
}

func (c *Client) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, _ ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	out, call, err := c.m.createStream(ctx, in)
	return answer("CreateStream", out, call, err)
}

func (c *Client) DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error) {
	out, call, err := c.m.deleteStream(ctx, in)
	return answer("DeleteStream", out, call, err)
}

func (c *Client) SplitShard(ctx context.Context, in *kinesis.SplitShardInput, _ ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error) {
	out, call, err := c.m.splitShard(ctx, in)
	return answer("SplitShard", out, call, err)
}

func (c *Client) MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, _ ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	out, call, err := c.m.mergeShards(ctx, in)
	return answer("MergeShards", out, call, err)
}

func (c *Client) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	out, call, err := c.m.getShardIterator(ctx, in)
	return answer("GetShardIterator", out, call, err)
}

func (c *Client) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, call, err := c.m.getRecords(ctx, in)
	return answer("GetRecords", out, call, err)
}
