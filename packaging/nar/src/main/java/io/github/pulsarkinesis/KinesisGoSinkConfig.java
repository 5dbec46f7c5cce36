package io.github.pulsarkinesis;

import java.io.Serializable;
import org.apache.pulsar.io.core.annotations.FieldDoc;

/**
 * The keys the worker shows for the kinesis-go sink. The configuration is
 * the Java Kinesis sink's, and kinesis-sink reads and checks all of it (see
 * conf/KEYS.md in the repository for every key); this class names the
 * essential ones for `pulsar-admin sinks available-sinks` and marks the
 * secret one, which the sink reads through SinkContext.getSecret.
 */
public class KinesisGoSinkConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    @FieldDoc(required = false, defaultValue = "", help = "Kinesis endpoint host (or URL); empty: the region's")
    private String awsEndpoint;

    @FieldDoc(required = false, defaultValue = "", help = "AWS region of the stream")
    private String awsRegion;

    @FieldDoc(required = false, defaultValue = "", help = "Kinesis stream name (or ARN)")
    private String awsKinesisStreamName;

    @FieldDoc(required = false, defaultValue = "", help = "Credential plugin class name; empty: static keys from awsCredentialPluginParam, else the default chain")
    private String awsCredentialPluginName;

    @FieldDoc(required = false, defaultValue = "", sensitive = true, help = "Credential plugin parameters (JSON), e.g. {\"accessKey\":...,\"secretKey\":...}")
    private String awsCredentialPluginParam;

    @FieldDoc(required = false, defaultValue = "ONLY_RAW_PAYLOAD", help = "ONLY_RAW_PAYLOAD, FULL_MESSAGE_IN_JSON, FULL_MESSAGE_IN_FB or FULL_MESSAGE_IN_JSON_EXPAND_VALUE")
    private String messageFormat;

    @FieldDoc(required = false, defaultValue = "false", help = "Keep the order of records with one key")
    private boolean retainOrdering;

    @FieldDoc(required = false, defaultValue = "true", help = "KPL aggregation")
    private boolean aggregationEnabled = true;

    public String getAwsEndpoint() {
        return awsEndpoint;
    }

    public String getAwsRegion() {
        return awsRegion;
    }

    public String getAwsKinesisStreamName() {
        return awsKinesisStreamName;
    }

    public String getAwsCredentialPluginName() {
        return awsCredentialPluginName;
    }

    public String getAwsCredentialPluginParam() {
        return awsCredentialPluginParam;
    }

    public String getMessageFormat() {
        return messageFormat;
    }

    public boolean isRetainOrdering() {
        return retainOrdering;
    }

    public boolean isAggregationEnabled() {
        return aggregationEnabled;
    }
}
