// Package awscfg builds the AWS side of the sink from its configuration: the
// credentials (awsCredentialPluginName/awsCredentialPluginParam, through the
// plugin registry in registry.go) and the Kinesis and CloudWatch clients that
// use them.
//
// # Credentials
//
// One provider signs every request to Kinesis and CloudWatch (the
// assume-role plugin's STS calls are signed with its base credentials). It is
// an aws.CredentialsCache over a renewer: credentials that expire are renewed
// in the background from DefaultExpiryWindow (5 minutes) before expiry, and
// New starts a goroutine that reads them every credentialsRefreshDelay so
// that this happens even while nothing is sent. Requests never wait for a
// renewal while the current credentials are valid: if STS is slow or down,
// the current credentials stay in use (until 15 s before they expire) and
// the renewal is retried every credentialsRefreshDelay. Only credentials that
// really run out make requests wait, and fail. (aws.CredentialsCache's own
// ExpiryWindow would renew inside the first request that sees the window and
// hold every concurrent request until STS answers; see renewer.)
//
// The plugins (names are exact; the class names are the Java sink's):
//
//   - "" (no plugin): static keys, awsCredentialPluginParam
//     {"accessKey":"…","secretKey":"…"} plus an optional "sessionToken" (the
//     Java sink has no session token).
//   - org.apache.pulsar.io.aws.AwsDefaultProviderChainPlugin, also
//     org.apache.pulsar.io.kinesis.AwsDefaultProviderChainPlugin and
//     "default": the SDK's default chain (environment, shared config and
//     credentials files and profiles, web identity as on EKS with IRSA, ECS
//     container credentials, EC2 instance profile). The param is ignored, as
//     in Java, unless it is a JSON object with "profile", which selects a
//     shared-config profile.
//   - org.apache.pulsar.io.aws.STSAssumeRoleProviderPlugin, also
//     org.apache.pulsar.io.kinesis.STSAssumeRoleProviderPlugin, "sts" and
//     "assumeRole": STS AssumeRole with {"roleArn","roleSessionName"} and
//     optionally "externalId", "durationSeconds" (900-43200, default 3600),
//     "policy" (a session policy, as a JSON string or object) and base keys
//     "accessKey"/"secretKey"/"sessionToken"; without base keys the default
//     chain (and "profile") signs the AssumeRole calls. The STS endpoint is
//     awsStsEndpoint/awsStsPort, else the region's.
//
// Errors are one line naming the key and the JSON field, never a value from
// awsCredentialPluginParam.
//
// # Clients
//
// New builds the Kinesis client (region, awsEndpoint/awsEndpointPort) and,
// unless metricsLevel is "none", the CloudWatch client (cloudwatchEndpoint/
// cloudwatchPort). connectTimeout bounds TCP connect and TLS handshake;
// skipCertificateValidation turns TLS verification off for Kinesis, STS and
// CloudWatch (with a warning). The Kinesis client keeps the SDK's standard
// retryer for control-plane calls (DescribeStreamSummary, ListShards);
// PutRecords calls switch it off per call because the producer
// (sink/producer) owns their retries.
//
// CloudWatch protocol: since service/cloudwatch v1.53 the SDK speaks Smithy
// RPC v2 CBOR, which emulators (moto, LocalStack) do not. When
// cloudwatchEndpoint names a host outside AWS's domains (amazonaws.com,
// amazonaws.com.cn, api.aws), or Options.CloudWatchQueryProtocol is set, the
// client uses the AWS query protocol instead, which real CloudWatch also
// accepts; an AWS host (including VPC endpoints) keeps the SDK default.
package awscfg
