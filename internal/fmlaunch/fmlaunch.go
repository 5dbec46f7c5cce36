// Package fmlaunch reproduces how Function Mesh starts a Go function: given
// a manifest with a compute.functionmesh.io/v1alpha1 Function (golang
// runtime), it builds the bash command line and the environment the
// operator gives the pod's container, so that a test can run the real
// binary exactly as a Function Mesh pod would, without Kubernetes.
//
// What is reproduced (docs/functions-contract.md §8; the operator's
// MakeGoFunctionCommand, getProcessGoRuntimeArgs, generateGoFunctionConf,
// convertGoFunctionConfs and generateContainerEnv):
//   - the admission webhook's defaults (replicas 1, autoAck true,
//     processingGuarantee atleast_once, spec.name = metadata.name, tenant
//     public, namespace default, cluster "kubernetes");
//   - the conf JSON: the old flat GoFunctionConf keys in their order, funcID
//     "${SHARD_ID}-<uid>", pulsarServiceURL "${brokerServiceURL}",
//     `"instanceID":0` replaced by `"instanceID":${SHARD_ID}`, userConfig =
//     JSON of funcConfig, only the first input topic, ports 9093/9094,
//     cpu/ram/disk as whole numbers rounded up (Quantity.Value),
//     expectedHealthCheckInterval -1, no secretsMap;
//   - the command: every '"' of the conf escaped as '\"' and the conf
//     expanded unquoted (the hazard the runtime repairs), the SHARD_ID line,
//     echo, ls -l, chmod +x, exec <go> -instance-conf ${goFunctionConfigs};
//     with goLocation, the download command first (no Pulsar auth/TLS);
//   - the environment: envFrom the pulsarConfig ConfigMap (and the auth/TLS
//     secrets), then POD_NAME, one variable per secretsMap entry named by
//     its key, pod.env, LOGGING_LEVEL.
//
// Options can move what a local run cannot keep (the executable path, the
// fixed ports, the download); everything else is as the operator does it.
package fmlaunch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pulsar-kinesis/kinesis-sink/internal/yamlvalue"
)

// Ports Function Mesh gives every Go function container.
const (
	GRPCPort    = 9093
	MetricsPort = 9094
)

// Manifest is what a manifest file holds: the Function, and the ConfigMaps
// and Secrets it may refer to.
type Manifest struct {
	Function *Function
	// ConfigMaps and Secrets by name: data (Secret data base64-decoded,
	// stringData merged over it).
	ConfigMaps map[string]map[string]string
	Secrets    map[string]map[string]string
}

// Function is the part of the Function resource that shapes the launch.
type Function struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"metadata"`
	Spec Spec `json:"spec"`
}

// Spec is FunctionSpec, the fields used here.
type Spec struct {
	Name                   string `json:"name"`
	Tenant                 string `json:"tenant"`
	Namespace              string `json:"namespace"`
	ClusterName            string `json:"clusterName"`
	Replicas               *int32 `json:"replicas"`
	ShowPreciseParallelism bool   `json:"showPreciseParallelism"`
	Input                  struct {
		Topics       []string `json:"topics"`
		TopicPattern string   `json:"topicPattern"`
	} `json:"input"`
	Output struct {
		Topic string `json:"topic"`
	} `json:"output"`
	LogTopic      string         `json:"logTopic"`
	LogTopicAgent string         `json:"logTopicAgent"`
	FuncConfig    map[string]any `json:"funcConfig"`
	Resources     struct {
		Requests map[string]any `json:"requests"`
	} `json:"resources"`
	SecretsMap          map[string]SecretRef `json:"secretsMap"`
	Timeout             int32                `json:"timeout"`
	AutoAck             *bool                `json:"autoAck"`
	MaxMessageRetry     int32                `json:"maxMessageRetry"`
	ProcessingGuarantee string               `json:"processingGuarantee"`
	DeadLetterTopic     string               `json:"deadLetterTopic"`
	SubscriptionName    string               `json:"subscriptionName"`
	CleanupSubscription bool                 `json:"cleanupSubscription"`
	Pod                 struct {
		Env []EnvVar `json:"env"`
	} `json:"pod"`
	Pulsar *struct {
		PulsarConfig string `json:"pulsarConfig"`
		AuthSecret   string `json:"authSecret"`
		TLSSecret    string `json:"tlsSecret"`
		AuthConfig   any    `json:"authConfig"`
		TLSConfig    any    `json:"tlsConfig"`
	} `json:"pulsar"`
	Golang *struct {
		Go         string `json:"go"`
		GoLocation string `json:"goLocation"`
		Log        *struct {
			Level     string `json:"level"`
			LogConfig any    `json:"logConfig"`
		} `json:"log"`
	} `json:"golang"`
	Image             string `json:"image"`
	ImageHasPulsarctl bool   `json:"imageHasPulsarctl"`
	ImageHasWget      bool   `json:"imageHasGet"`
}

// SecretRef names a key of a Kubernetes Secret.
type SecretRef struct {
	Path string `json:"path"`
	Key  string `json:"key"`
}

// EnvVar is a pod.env entry; only literal values are supported.
type EnvVar struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	ValueFrom any    `json:"valueFrom"`
}

// Load reads a manifest file (one or more YAML documents).
func Load(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse reads the YAML documents of a manifest. Each document is turned
// into JSON first and decoded from that, as kubectl and the operator see
// it: funcConfig numbers become float64 and YAML-only scalars (e.g. an
// unquoted date) stay text.
func Parse(data []byte) (*Manifest, error) {
	m := &Manifest{ConfigMaps: map[string]map[string]string{}, Secrets: map[string]map[string]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		doc, err := yamlvalue.Value(&node)
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		if doc == nil {
			continue
		}
		js, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Data       map[string]string `json:"data"`
			StringData map[string]string `json:"stringData"`
		}
		if err := json.Unmarshal(js, &head); err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		switch head.Kind {
		case "Function":
			if m.Function != nil {
				return nil, fmt.Errorf("document %d: a second Function; one per manifest", i)
			}
			var f Function
			if err := json.Unmarshal(js, &f); err != nil {
				return nil, fmt.Errorf("document %d (Function %s): %v", i, head.Metadata.Name, err)
			}
			m.Function = &f
		case "ConfigMap":
			m.ConfigMaps[head.Metadata.Name] = head.Data
		case "Secret":
			s := map[string]string{}
			for k, v := range head.Data {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return nil, fmt.Errorf("document %d (Secret %s): data.%s is not base64", i, head.Metadata.Name, k)
				}
				s[k] = string(b)
			}
			for k, v := range head.StringData {
				s[k] = v
			}
			m.Secrets[head.Metadata.Name] = s
		}
	}
	if m.Function == nil {
		return nil, errors.New("no Function document")
	}
	return m, m.Function.validate()
}

// validate checks what the operator needs to build a Go launch line.
func (f *Function) validate() error {
	if f.APIVersion != "compute.functionmesh.io/v1alpha1" {
		return fmt.Errorf("Function %s: apiVersion %q, want compute.functionmesh.io/v1alpha1", f.Metadata.Name, f.APIVersion)
	}
	if f.Metadata.Name == "" {
		return errors.New("Function: metadata.name is required")
	}
	if f.Spec.Golang == nil || f.Spec.Golang.Go == "" {
		return fmt.Errorf("Function %s: spec.golang.go is required (the executable's path in the container)", f.Metadata.Name)
	}
	if len(f.Spec.Input.Topics) == 0 {
		// The operator indexes topics[0] for the Go conf.
		return fmt.Errorf("Function %s: spec.input.topics needs at least one topic (Function Mesh passes topics[0] to a Go function)", f.Metadata.Name)
	}
	for _, e := range f.Spec.Pod.Env {
		if e.ValueFrom != nil {
			return fmt.Errorf("Function %s: spec.pod.env %s: valueFrom is not supported here, give a value", f.Metadata.Name, e.Name)
		}
	}
	return nil
}

// withDefaults is the Function after the admission webhook's defaulting.
func (f *Function) withDefaults() Spec {
	s := f.Spec
	if s.Replicas == nil {
		one := int32(1)
		s.Replicas = &one
	}
	if s.AutoAck == nil {
		t := true
		s.AutoAck = &t
	}
	if s.ProcessingGuarantee == "" {
		s.ProcessingGuarantee = "atleast_once"
	}
	if s.Name == "" {
		s.Name = f.Metadata.Name
	}
	if s.ClusterName == "" {
		s.ClusterName = "kubernetes"
	}
	if s.Tenant == "" {
		s.Tenant = "public"
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	if s.LogTopic != "" && s.LogTopicAgent == "" {
		s.LogTopicAgent = "runtime"
	}
	return s
}

// GoFunctionConf is the operator's conf struct for a Go function: the old
// apache Go instance keys, marshalled in this order.
type GoFunctionConf struct {
	PulsarServiceURL            string        `json:"pulsarServiceURL"`
	InstanceID                  int           `json:"instanceID"`
	FuncID                      string        `json:"funcID"`
	FuncVersion                 string        `json:"funcVersion"`
	MaxBufTuples                int           `json:"maxBufTuples"`
	Port                        int           `json:"port"`
	ClusterName                 string        `json:"clusterName"`
	KillAfterIdle               time.Duration `json:"killAfterIdleMs"`
	Tenant                      string        `json:"tenant"`
	NameSpace                   string        `json:"nameSpace"`
	Name                        string        `json:"name"`
	LogTopic                    string        `json:"logTopic"`
	ProcessingGuarantees        int32         `json:"processingGuarantees"`
	SecretsMap                  string        `json:"secretsMap"`
	Runtime                     int32         `json:"runtime"`
	AutoACK                     bool          `json:"autoAck"`
	Parallelism                 int32         `json:"parallelism"`
	SubscriptionType            int32         `json:"subscriptionType"`
	TimeoutMs                   uint64        `json:"timeoutMs"`
	SubscriptionName            string        `json:"subscriptionName"`
	CleanupSubscription         bool          `json:"cleanupSubscription"`
	SourceSpecTopic             string        `json:"sourceSpecsTopic"`
	SourceSchemaType            string        `json:"sourceSchemaType"`
	IsRegexPatternSubscription  bool          `json:"isRegexPatternSubscription"`
	ReceiverQueueSize           int32         `json:"receiverQueueSize"`
	SinkSpecTopic               string        `json:"sinkSpecsTopic"`
	SinkSchemaType              string        `json:"sinkSchemaType"`
	CPU                         float64       `json:"cpu"`
	RAM                         int64         `json:"ram"`
	Disk                        int64         `json:"disk"`
	MaxMessageRetries           int32         `json:"maxMessageRetries"`
	DeadLetterTopic             string        `json:"deadLetterTopic"`
	ExpectedHealthCheckInterval int32         `json:"expectedHealthCheckInterval"`
	UserConfig                  string        `json:"userConfig"`
	MetricsPort                 int           `json:"metricsPort"`
}

// Options adjust the launch for a run outside Kubernetes. The zero value
// is exactly the operator's.
type Options struct {
	// UID is the Function's Kubernetes UID (in funcID); metadata.uid, else
	// a fixed placeholder.
	UID string
	// GoPath replaces spec.golang.go, the executable's path, in the
	// command (the conf does not hold it).
	GoPath string
	// Port and MetricsPort replace 9093 and 9094 in the conf, so that
	// several instances can run on one host.
	Port, MetricsPort int
	// SkipDownload leaves out the goLocation download, for a binary that
	// is already at GoPath.
	SkipDownload bool
}

// DefaultUID stands for the Function's UID when none is known.
const DefaultUID = "00000000-0000-4000-8000-000000000000"

var processingGuarantees = map[string]int32{"atleast_once": 0, "atmost_once": 1, "effectively_once": 2, "manual": 3}

// Conf is the GoFunctionConf the operator builds for the Function.
func (m *Manifest) Conf(opts Options) (*GoFunctionConf, error) {
	f := m.Function
	s := f.withDefaults()
	uid := opts.UID
	if uid == "" {
		uid = f.Metadata.UID
	}
	if uid == "" {
		uid = DefaultUID
	}
	pg, ok := processingGuarantees[s.ProcessingGuarantee]
	if !ok {
		// The operator maps anything else to ATLEAST_ONCE; the CRD's enum
		// would have refused it before that.
		return nil, fmt.Errorf("Function %s: spec.processingGuarantee %q; allowed: atleast_once, atmost_once, effectively_once, manual", f.Metadata.Name, s.ProcessingGuarantee)
	}
	parallelism := int32(1)
	if s.ShowPreciseParallelism {
		parallelism = *s.Replicas
	}
	logTopic := s.LogTopic
	if s.LogTopicAgent == "sidecar" {
		logTopic = ""
	}
	deadLetter := s.DeadLetterTopic
	if deadLetter == "" && s.MaxMessageRetry > 0 && (s.SubscriptionName == "" || strings.Contains(s.SubscriptionName, `\`)) {
		deadLetter = fmt.Sprintf("%s-%s-%s-DLQ", s.Tenant, s.Namespace, s.Name)
	}
	userConfig := ""
	if s.FuncConfig != nil {
		b, err := json.Marshal(s.FuncConfig)
		if err != nil {
			return nil, fmt.Errorf("Function %s: spec.funcConfig: %v", f.Metadata.Name, err)
		}
		userConfig = string(b)
	}
	var res [3]int64
	for i, k := range []string{"cpu", "memory", "storage"} {
		v, err := quantityValue(s.Resources.Requests[k])
		if err != nil {
			return nil, fmt.Errorf("Function %s: spec.resources.requests.%s: %v", f.Metadata.Name, k, err)
		}
		res[i] = v
	}
	c := &GoFunctionConf{
		FuncID:                      "${SHARD_ID}-" + uid,
		PulsarServiceURL:            "${brokerServiceURL}",
		FuncVersion:                 "0",
		MaxBufTuples:                100,
		Port:                        GRPCPort,
		ClusterName:                 s.ClusterName,
		Tenant:                      s.Tenant,
		NameSpace:                   s.Namespace,
		Name:                        s.Name,
		LogTopic:                    logTopic,
		ProcessingGuarantees:        pg,
		Runtime:                     3,
		AutoACK:                     *s.AutoAck,
		Parallelism:                 parallelism,
		TimeoutMs:                   uint64(s.Timeout),
		SubscriptionName:            s.SubscriptionName,
		CleanupSubscription:         s.CleanupSubscription,
		SourceSpecTopic:             s.Input.Topics[0],
		IsRegexPatternSubscription:  s.Input.TopicPattern != "",
		SinkSpecTopic:               s.Output.Topic,
		CPU:                         float64(res[0]),
		RAM:                         res[1],
		Disk:                        res[2],
		MaxMessageRetries:           s.MaxMessageRetry,
		DeadLetterTopic:             deadLetter,
		UserConfig:                  userConfig,
		MetricsPort:                 MetricsPort,
		ExpectedHealthCheckInterval: -1,
	}
	if opts.Port != 0 {
		c.Port = opts.Port
	}
	if opts.MetricsPort != 0 {
		c.MetricsPort = opts.MetricsPort
	}
	return c, nil
}

// ConfJSON is the conf as it appears in the command before escaping:
// marshalled, with the instance id left to the shell.
func (m *Manifest) ConfJSON(opts Options) (string, error) {
	c, err := m.Conf(opts)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), `"instanceID":0`, `"instanceID":${SHARD_ID}`), nil
}

// runnerHasPulsarctl is the operator's test of an image name for pulsarctl.
var runnerHasPulsarctl = regexp.MustCompile(`pulsar-functions-(pulsarctl|sn|generic)-(java|python|go|nodejs|base)-runner`)

// Command is the container command: ["bash", "-c", line].
func (m *Manifest) Command(opts Options) ([]string, error) {
	conf, err := m.ConfJSON(opts)
	if err != nil {
		return nil, err
	}
	s := m.Function.Spec
	goPath := s.Golang.Go
	if opts.GoPath != "" {
		goPath = opts.GoPath
	}
	escaped := strings.ReplaceAll(conf, `"`, `\"`)
	process := "SHARD_ID=${POD_NAME##*-} && echo shardId=${SHARD_ID} && " + strings.Join([]string{
		"GO_FUNCTION_CONF=" + escaped, "&&",
		"goFunctionConfigs=${GO_FUNCTION_CONF}", "&&",
		`echo goFunctionConfigs="'${goFunctionConfigs}'"`, "&&",
		"ls -l", goPath, "&&",
		"chmod +x", goPath, "&&",
		"exec", goPath, "-instance-conf", "${goFunctionConfigs}",
	}, " ")
	if loc := s.Golang.GoLocation; loc != "" && !opts.SkipDownload {
		dl, err := m.downloadCommand(loc, goPath)
		if err != nil {
			return nil, err
		}
		// Sic: the operator writes no space after the last "&&".
		process = dl + " && ls -al && pwd &&" + process
	}
	return []string{"bash", "-c", process}, nil
}

// downloadCommand is the operator's package download, for a Pulsar without
// authentication or TLS settings in the Function.
func (m *Manifest) downloadCommand(loc, dest string) (string, error) {
	s := m.Function.Spec
	if p := s.Pulsar; p != nil && (p.AuthSecret != "" || p.TLSSecret != "" || p.AuthConfig != nil || p.TLSConfig != nil) {
		return "", fmt.Errorf("Function %s: the download command with Pulsar authentication or TLS is not reproduced; use Options.SkipDownload", m.Function.Metadata.Name)
	}
	hasPulsarctl, hasWget := s.ImageHasPulsarctl, s.ImageHasWget
	if runnerHasPulsarctl.MatchString(s.Image) {
		hasPulsarctl, hasWget = true, true
	}
	var args []string
	switch {
	case (strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")) && hasWget:
		return strings.Join([]string{"wget", loc, "-O", dest}, " "), nil
	case hasPulsarctl:
		args = []string{"export PATH=$PATH:/pulsar/bin && ", "pulsarctl", "--admin-service-url", "$webServiceURL"}
	default:
		args = []string{"/pulsar/bin/pulsar-admin", "--admin-url", "$webServiceURL"}
	}
	if strings.HasPrefix(loc, "function://") || strings.HasPrefix(loc, "sink://") || strings.HasPrefix(loc, "source://") {
		args = append(args, "packages", "download", loc, "--path", dest)
	} else {
		args = append(args, "functions", "download", "--path", loc, "--destination-file", dest)
	}
	return strings.Join(args, " "), nil
}

// PodName is the name of the pod of the given replica: the StatefulSet is
// "<metadata.name>-function".
func (m *Manifest) PodName(replica int) string {
	return fmt.Sprintf("%s-function-%d", m.Function.Metadata.Name, replica)
}

// Env is the container environment of the given replica, "NAME=value" in
// the order of precedence (a later entry wins, as in exec.Cmd.Env and as
// env wins over envFrom in Kubernetes). secret resolves a secretsMap entry
// (Secret name, key); when nil, the manifest's own Secret documents are
// used. A missing ConfigMap or secret key is an error, as it would keep
// the pod from starting.
func (m *Manifest) Env(replica int, secret func(name, key string) (string, bool)) ([]string, error) {
	f := m.Function
	s := f.Spec
	if secret == nil {
		secret = func(name, key string) (string, bool) {
			v, ok := m.Secrets[name][key]
			return v, ok
		}
	}
	var env []string
	if p := s.Pulsar; p != nil {
		if p.PulsarConfig != "" {
			cm, ok := m.ConfigMaps[p.PulsarConfig]
			if !ok {
				return nil, fmt.Errorf("Function %s: spec.pulsar.pulsarConfig: ConfigMap %q is not in the manifest", f.Metadata.Name, p.PulsarConfig)
			}
			env = append(env, sortedEnv(cm)...)
		}
		for _, name := range []string{p.AuthSecret, p.TLSSecret} {
			if name == "" {
				continue
			}
			sec, ok := m.Secrets[name]
			if !ok {
				return nil, fmt.Errorf("Function %s: spec.pulsar: Secret %q is not in the manifest", f.Metadata.Name, name)
			}
			env = append(env, sortedEnv(sec)...)
		}
	}
	env = append(env, "POD_NAME="+m.PodName(replica))
	// The operator ranges over the map (random order); sorted here so the
	// result is stable. Names are distinct, so the order has no effect.
	names := make([]string, 0, len(s.SecretsMap))
	for n := range s.SecretsMap {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ref := s.SecretsMap[n]
		v, ok := secret(ref.Path, ref.Key)
		if !ok {
			return nil, fmt.Errorf("Function %s: spec.secretsMap.%s: no key %q in Secret %q", f.Metadata.Name, n, ref.Key, ref.Path)
		}
		env = append(env, n+"="+v)
	}
	for _, e := range s.Pod.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if lvl := goLogLevel(s); lvl != "" {
		env = append(env, "LOGGING_LEVEL="+lvl)
	}
	return env, nil
}

// goLogLevel is LOGGING_LEVEL: the golang.log.level when known, "info"
// otherwise, none when a log config file is given.
func goLogLevel(s Spec) string {
	if s.Golang.Log != nil && s.Golang.Log.LogConfig != nil {
		return ""
	}
	if s.Golang.Log != nil {
		switch s.Golang.Log.Level {
		case "debug", "trace", "info", "warn", "error", "fatal", "panic":
			return s.Golang.Log.Level
		}
	}
	return "info"
}

func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// quantity is a Kubernetes resource quantity: a decimal number with an
// optional binary (Ki…Ei), decimal (n, u, m, k, M…E) or exponent (e3)
// suffix.
var quantity = regexp.MustCompile(`^([+-]?[0-9]*\.?[0-9]*)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)

// quantityValue is resource.Quantity.Value(): the quantity rounded up to a
// whole number (so cpu "100m" is 1). A missing value is 0.
func quantityValue(v any) (int64, error) {
	var s string
	switch t := v.(type) {
	case nil:
		return 0, nil
	case string:
		s = t
	case float64:
		s = big.NewFloat(t).Text('f', -1)
	default:
		return 0, fmt.Errorf("%v is not a quantity", v)
	}
	mm := quantity.FindStringSubmatch(strings.TrimSpace(s))
	if mm == nil || mm[1] == "" || mm[1] == "." || mm[1] == "+" || mm[1] == "-" {
		return 0, fmt.Errorf("%q is not a quantity", s)
	}
	r, ok := new(big.Rat).SetString(mm[1])
	if !ok {
		return 0, fmt.Errorf("%q is not a quantity", s)
	}
	pow := func(base, exp int64) *big.Rat {
		return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
	}
	switch suf := mm[2]; suf {
	case "":
	case "Ki", "Mi", "Gi", "Ti", "Pi", "Ei":
		r.Mul(r, pow(2, int64(10*(1+strings.Index("KMGTPE", suf[:1])))))
	case "n":
		r.Quo(r, pow(10, 9))
	case "u":
		r.Quo(r, pow(10, 6))
	case "m":
		r.Quo(r, pow(10, 3))
	case "k", "M", "G", "T", "P", "E":
		r.Mul(r, pow(10, int64(3*(1+strings.Index("kMGTPE", suf)))))
	default:
		var e int64
		fmt.Sscan(suf[1:], &e)
		if e >= 0 {
			r.Mul(r, pow(10, e))
		} else {
			r.Quo(r, pow(10, -e))
		}
	}
	// Round up, away from zero for positive values, as Quantity.Value does.
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return q.Int64(), nil
}
