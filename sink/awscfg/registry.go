package awscfg

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pulsar-kinesis/kinesis-sink/conf"
)

// Plugin is one credential plugin: what awsCredentialPluginName selects.
type Plugin struct {
	// Name is the canonical name ("" for static keys).
	Name string
	// Aliases are the other names it answers to.
	Aliases []string
	// Source is what conf.Config.Credentials reports for these names; the
	// tests check that conf accepts exactly the registry's names.
	Source conf.CredentialSource
	// Provider builds the provider from awsCredentialPluginParam. It returns
	// the bare provider; NewCredentials adds the renewal and the cache.
	Provider func(ctx context.Context, param string, env Env) (aws.CredentialsProvider, error)
}

// Env is what a plugin may need besides its param.
type Env struct {
	// Region signs the STS calls and selects the default STS endpoint.
	Region string
	// STSEndpoint is the STS URL (awsStsEndpoint/awsStsPort); "" means the
	// region's.
	STSEndpoint string
	// HTTPClient carries STS and credential-endpoint calls (connectTimeout,
	// TLS settings and an overall timeout applied); nil means the SDK's.
	HTTPClient aws.HTTPClient
	// ExpiryWindow is how long before expiry credentials are renewed (in
	// the background; see renewer).
	ExpiryWindow time.Duration
	// RetryDelay is credentialsRefreshDelay: how often the credentials are
	// re-read, and how soon a failed renewal is retried while the current
	// credentials are still valid.
	RetryDelay time.Duration
	// Logger receives warnings (never secret values).
	Logger *slog.Logger
}

// plugins is the registry: the one place where credential plugins are
// registered. conf.Config.Credentials validates the same names at load time
// (TestRegistryMatchesConf keeps the two in step).
var plugins = []Plugin{
	{
		Name:     "",
		Source:   conf.StaticKeys,
		Provider: staticProvider,
	},
	{
		Name:     conf.DefaultChainPlugin,
		Aliases:  []string{conf.DefaultChainPluginLegacy, conf.DefaultChainPluginAlias},
		Source:   conf.DefaultChain,
		Provider: defaultChainProvider,
	},
	{
		Name:     conf.AssumeRolePlugin,
		Aliases:  []string{conf.AssumeRolePluginLegacy, conf.AssumeRolePluginAlias, conf.AssumeRolePluginAlias2},
		Source:   conf.AssumeRole,
		Provider: assumeRoleProvider,
	},
}

// Plugins returns the registered plugins.
func Plugins() []Plugin {
	out := make([]Plugin, len(plugins))
	copy(out, plugins)
	return out
}

// Lookup finds the plugin named name (surrounding spaces ignored, case
// significant, as Java class names are). An unknown name is a one-line
// *conf.Error listing the names that exist.
func Lookup(name string) (*Plugin, error) {
	n := strings.TrimSpace(name)
	for i := range plugins {
		p := &plugins[i]
		if p.Name == n {
			return p, nil
		}
		for _, a := range p.Aliases {
			if a == n {
				return p, nil
			}
		}
	}
	return nil, &conf.Error{Key: "awsCredentialPluginName", Msg: fmt.Sprintf("must be empty (static keys) or one of %s, got %q", strings.Join(pluginNames(), ", "), name)}
}

// pluginNames lists every non-empty name and alias, in registry order.
func pluginNames() []string {
	var out []string
	for _, p := range plugins {
		if p.Name != "" {
			out = append(out, p.Name)
		}
		out = append(out, p.Aliases...)
	}
	return out
}
