package awscfg

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// The environment variables with which AWS's SDKs and CLI let a deployment
// point a service at another endpoint (AWS's "service-specific endpoints"):
// the same variables send this sink, the aws CLI and other tools on the host
// to a local emulator or a VPC endpoint without editing each one's config.
const (
	envEndpointAll    = "AWS_ENDPOINT_URL"
	envEndpointIgnore = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
)

// endpointFromEnv returns configured when set (the sink's own keys win);
// else AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true. from names the variable used
// ("" for none).
func endpointFromEnv(getenv func(string) string, configured, service string) (endpoint, from string, err error) {
	if configured != "" || strings.EqualFold(strings.TrimSpace(getenv(envEndpointIgnore)), "true") {
		return configured, "", nil
	}
	for _, name := range []string{envEndpointAll + "_" + service, envEndpointAll} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		u, perr := url.Parse(v)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", name, fmt.Errorf("%s=%q: must be an http:// or https:// URL, as the AWS SDKs read it", name, v)
		}
		return v, name, nil
	}
	return "", "", nil
}

// endpointsFromEnv fills the endpoints the config leaves empty from the
// environment, logging where each one came from.
func endpointsFromEnv(kinesisURL, stsURL, cwURL *string, logf func(service, variable, url string)) error {
	for _, e := range []struct {
		url     *string
		service string
	}{{kinesisURL, "KINESIS"}, {stsURL, "STS"}, {cwURL, "CLOUDWATCH"}} {
		v, from, err := endpointFromEnv(os.Getenv, *e.url, e.service)
		if err != nil {
			return err
		}
		if from != "" {
			logf(e.service, from, v)
		}
		*e.url = v
	}
	return nil
}
