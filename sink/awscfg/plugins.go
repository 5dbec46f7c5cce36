package awscfg

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pulsar-kinesis/kinesis-sink/conf"

	"github.com/pulsar-kinesis/kinesis-sink/internal/errtext"
)

// warnUnknown logs the names (not the values) of param fields the plugin
// ignores, so a misspelt "externalID" does not go unnoticed.
func warnUnknown(env Env, plugin string, unknown []string) {
	if len(unknown) == 0 || env.Logger == nil {
		return
	}
	quoted := make([]string, len(unknown))
	for i, k := range unknown {
		quoted[i] = strconv.Quote(k)
	}
	env.Logger.Warn("awsCredentialPluginParam: ignoring unknown fields", "plugin", plugin, "fields", strings.Join(quoted, ", "))
}

func staticCredentials(k *conf.StaticKeyParam) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(k.AccessKey.Reveal(), k.SecretKey.Reveal(), k.SessionToken.Reveal())
}

func staticProvider(_ context.Context, param string, env Env) (aws.CredentialsProvider, error) {
	k, unknown, err := conf.ParseStaticParam(param)
	if err != nil {
		return nil, err
	}
	warnUnknown(env, "static keys", unknown)
	return staticCredentials(k), nil
}

func defaultChainProvider(ctx context.Context, param string, env Env) (aws.CredentialsProvider, error) {
	profile, unknown, err := conf.ParseDefaultChainParam(param)
	if err != nil {
		return nil, err
	}
	warnUnknown(env, "default chain", unknown)
	return loadDefaultChain(ctx, profile, env)
}

// loadDefaultChain returns the SDK's default chain. config.LoadDefaultConfig
// wraps it in an aws.CredentialsCache; the renewer invalidates that cache
// when it renews, so the chain is asked again.
func loadDefaultChain(ctx context.Context, profile string, env Env) (aws.CredentialsProvider, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(env.Region),
	}
	if env.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(env.HTTPClient))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("awscfg: default credential chain: %s", errtext.OneLine(err.Error()))
	}
	return cfg.Credentials, nil
}

func assumeRoleProvider(ctx context.Context, param string, env Env) (aws.CredentialsProvider, error) {
	p, unknown, err := conf.ParseAssumeRoleParam(param)
	if err != nil {
		return nil, err
	}
	warnUnknown(env, "assume role", unknown)
	var base aws.CredentialsProvider
	if p.Base != nil {
		base = staticCredentials(p.Base)
	} else if base, err = loadDefaultChain(ctx, p.Profile, env); err != nil {
		return nil, err
	}
	stsCfg := aws.Config{Region: env.Region, Credentials: base, Retryer: finalCertErrorsRetryer}
	if env.HTTPClient != nil {
		stsCfg.HTTPClient = env.HTTPClient
	}
	client := sts.NewFromConfig(stsCfg, func(o *sts.Options) {
		if env.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(env.STSEndpoint)
		}
	})
	return stscreds.NewAssumeRoleProvider(client, p.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = p.SessionName
		o.ExternalID = p.ExternalID
		o.Duration = p.Duration
		o.Policy = p.Policy
	}), nil
}
