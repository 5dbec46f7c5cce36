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
	"github.com/pulsar-kinesis/kinesis-sink/internal/sdkbody"
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
		config.WithAPIOptions(sdkbody.APIOptions()),
	}
	if env.Logger != nil {
		opts = append(opts, config.WithLogger(sdkLogger{env.Logger}))
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
	stsCfg := aws.Config{Region: env.Region, Credentials: base, Retryer: finalCertErrorsRetryer, APIOptions: sdkbody.APIOptions()}
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

// credentialsFailure is open's one line when a plugin could get no
// credentials: what it tried, the SDK's reason (without the wrappers each of
// its caches adds), and what to set. The SDK's default chain reports only
// its last provider, the EC2 instance role, which misleads a user who meant
// to set environment variables.
func credentialsFailure(plugin *Plugin, param string, err error) error {
	why := errtext.OneLine(err.Error())
	for {
		w := strings.TrimPrefix(why, "failed to refresh cached credentials, ")
		if w == why {
			break
		}
		why = w
	}
	switch plugin.Source {
	case conf.DefaultChain:
		return fmt.Errorf("awscfg: no AWS credentials from the default chain (%s): tried environment variables, "+
			"shared config and credentials files, web identity, container and EC2 instance roles; the last said: %s; "+
			"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the instance's environment, run it "+
			"with a role, or give static keys in awsCredentialPluginParam with an empty awsCredentialPluginName",
			plugin.Name, why)
	case conf.AssumeRole:
		role := "the role"
		if p, _, perr := conf.ParseAssumeRoleParam(param); perr == nil && p.RoleARN != "" {
			role = p.RoleARN
		}
		if !strings.Contains(why, "AccessDenied") {
			return fmt.Errorf("awscfg: cannot assume role %s (%s): %s", role, plugin.Name, why)
		}
		return fmt.Errorf("awscfg: cannot assume role %s (%s): %s; the base credentials (accessKey and secretKey "+
			"in awsCredentialPluginParam, else the default chain) need sts:AssumeRole on it, and its trust policy "+
			"must name their principal", role, plugin.Name, why)
	}
	return fmt.Errorf("awscfg: cannot get AWS credentials (%s): %s", plugin.Source, why)
}
