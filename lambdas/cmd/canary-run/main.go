// Command canary-run rolls a microservice out on any cluster reachable with a
// kubeconfig, running the canary engine in-process instead of in Step
// Functions: the same handlers, decisions, retries and roll back.
//
//	canary-run --kubeconfig ~/.kube/config --deploy specfiles/deploy.json \
//	    --template specfiles/appmesh/kubernetes_template.yml --image repo/app:2 --metrics healthy
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/analysis/cloudwatch"
	"github.com/eks-canary/platform/lambdas/analysis/prometheus"
	"github.com/eks-canary/platform/lambdas/analysis/synthetic"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/hooks"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/notify"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/template"
)

// Exit codes.
const (
	exitPromoted   = 0
	exitRolledBack = 1
	exitError      = 2
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		kubeconfig  = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
		kubeContext = flag.String("context", "", "kubeconfig context (default: the current one)")
		deployPath  = flag.String("deploy", "", "deploy.json of the microservice (required)")
		tmplPath    = flag.String("template", "", "kubernetes_template.yml to use instead of deploy.json's config_file")
		image       = flag.String("image", "", "container image to use instead of deploy.json's container_image")
		namespace   = flag.String("namespace", "", "namespace to use instead of deploy.json's kubernetes_namespace")
		cluster     = flag.String("cluster", "", "cluster name to use instead of deploy.json's cluster_name (the build fills both; any name works with --kubeconfig)")
		metrics     = flag.String("metrics", synthetic.Healthy, "where analysis reads metrics: cloudwatch (needs AWS credentials), or synthetic traffic: healthy, failing, nodata")
		promURL     = flag.String("prometheus", os.Getenv(contract.EnvPrometheusURL), "Prometheus query URL for deploy.json's analysis.provider \"prometheus\": a server's base URL, or an Amazon Managed Service for Prometheus workspace's (signed with your AWS credentials) (default: $"+contract.EnvPrometheusURL+")")
		speed       = flag.Float64("speed", 1, "run the schedule this many times faster than deploy.json says (demos)")
		verbose     = flag.Bool("v", false, "log every step as JSON on stderr")
		domain      = flag.String("service-domain", os.Getenv(contract.EnvServiceDomain), "the stack's private DNS domain that fills templates' ${SERVICE_DOMAIN} (default: $"+contract.EnvServiceDomain+")")
		accounts    = flag.String("allowed-service-accounts", envOr(contract.EnvAllowedServiceAccounts, contract.AppMeshEnvoyServiceAccount),
			"comma-separated ServiceAccounts the template's pods may run as besides default (default: $"+contract.EnvAllowedServiceAccounts+", or "+contract.AppMeshEnvoyServiceAccount+" as the environment allows with trafficLayer appmesh)")
		router = flag.String("router", envOr(contract.EnvTrafficLayer, contract.Routers()[0]),
			"router of a deploy.json that names none, as the stack's trafficLayer: "+strings.Join(contract.Routers(), " or ")+" (default: $"+contract.EnvTrafficLayer+", or "+contract.Routers()[0]+")")
		types = flag.String("allowed-service-types", os.Getenv(contract.EnvAllowedServiceTypes),
			"comma-separated Service types the template may use besides ClusterIP: NodePort, LoadBalancer, ExternalName (default: $"+contract.EnvAllowedServiceTypes+")")
		timeout = flag.Duration("rollout-timeout", contract.DefaultRolloutTimeout,
			"how long the rollout may run before it is rolled back, as the stack's "+contract.ConfigRolloutTimeout+"; Validate refuses a plan that cannot finish within it")
		hookAllow = flag.String("hook-allow", os.Getenv(contract.EnvHookAllowedCIDRs),
			"comma-separated private networks (CIDRs) webhooks may reach, e.g. 10.20.0.0/16; loopback, link-local and metadata addresses never (default: $"+contract.EnvHookAllowedCIDRs+")")
	)
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *deployPath == "" {
		fmt.Fprintln(os.Stderr, "canary-run: --deploy is required: the path of the microservice's deploy.json")
		return exitError
	}
	if *speed <= 0 {
		fmt.Fprintf(os.Stderr, "canary-run: --speed %g must be positive\n", *speed)
		return exitError
	}
	if *timeout < time.Second {
		fmt.Fprintf(os.Stderr, "canary-run: --rollout-timeout %s must be at least 1s\n", *timeout)
		return exitError
	}
	if err := spec.SetDefaultRouter(*router); err != nil {
		fmt.Fprintln(os.Stderr, "canary-run: --router:", err)
		return exitError
	}
	policy, err := template.ParsePolicy(*accounts, *types)
	if err != nil {
		fmt.Fprintln(os.Stderr, "canary-run:", err)
		return exitError
	}
	hookCIDRs, err := hooks.ParseCIDRs(*hookAllow)
	if err != nil {
		fmt.Fprintln(os.Stderr, "canary-run: --hook-allow:", err)
		return exitError
	}
	deploy, err := deployJSON(*deployPath, overrides{template: *tmplPath, image: *image, namespace: *namespace, cluster: *cluster})
	if err != nil {
		fmt.Fprintln(os.Stderr, "canary-run:", err)
		return exitError
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	provider, alarms, err := metricsProvider(ctx, *metrics, *speed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "canary-run:", err)
		return exitError
	}
	// Only the schedule runs faster: what the status shows stays on the wall clock.
	var speedup *engine.Speedup
	if *speed != 1 {
		speedup = &engine.Speedup{From: time.Now(), Factor: *speed}
	}
	var promSource analysis.Provider
	if *promURL != "" {
		p, err := prometheus.ForEndpoint(*promURL, func() (aws.CredentialsProvider, error) {
			cfg, err := config.LoadDefaultConfig(ctx)
			return cfg.Credentials, err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "canary-run: --prometheus:", err)
			return exitError
		}
		// Periods shrink with the schedule: under --speed 10 a window of
		// one scheduled minute is six wall seconds.
		p.Period = speedup.Wait(prometheus.DefaultPeriod)
		promSource = p
	}
	eng := &engine.Engine{
		Connector: &engine.RESTConnector{Source: func(context.Context, string) (*rest.Config, error) {
			return kube.FromKubeconfig(*kubeconfig, *kubeContext)
		}},
		Routers:    routers.All(),
		Metrics:    provider,
		Prometheus: promSource,
		Alarms:     alarms,
		Notifier:   notify.Log{Logger: log},
		Log:        log,
		Speedup:    speedup,

		ServiceDomain:  *domain,
		Policy:         policy,
		RolloutTimeout: *timeout,
		// Webhooks use hooks.Client: checked addresses, no redirects, no proxy.
		HookAllowedCIDRs: hookCIDRs,
	}
	host, _ := os.Hostname()
	execution := fmt.Sprintf("local:%s:%d", host, time.Now().Unix())
	runner := &engine.Local{Engine: eng, Sleep: interruptible(speedup), Timeout: *timeout}
	var named struct {
		Microservice string `json:"microservice_name"`
		Namespace    string `json:"kubernetes_namespace"`
	}
	if json.Unmarshal(deploy, &named) == nil && named.Microservice != "" && named.Namespace != "" {
		fmt.Printf("rolling out %s in %s (execution %s); watch it with: canaryctl -n %s watch %s\n",
			named.Microservice, named.Namespace, execution, named.Namespace, named.Microservice)
	}
	out, err := runner.Run(ctx, deploy, execution)
	if err != nil {
		fmt.Fprintln(os.Stderr, "canary-run:", err)
		return exitError
	}
	r := out.State.Rollout
	if out.Phase == "Succeeded" {
		fmt.Printf("promoted %s version %d: %s\n", out.State.Microservice, r.Version, out.Reason)
		return exitPromoted
	}
	fmt.Printf("rolled back %s version %d; traffic is on version %d: %s\n", out.State.Microservice, r.Version, r.StableVersion, out.Reason)
	return exitRolledBack
}

// overrides are the command-line flags that replace deploy.json's fields.
type overrides struct{ template, image, namespace, cluster string }

// deployJSON reads deploy.json and applies the command-line overrides.
func deployJSON(path string, o overrides) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read deploy.json: %w", err)
	}
	// Empty input, a BOM, a list or duplicate keys would be lost or
	// misreported once decoded into a map: refuse them as the engine does.
	if err := spec.CheckDocument(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", path, err)
	}
	if o.template != "" {
		tmpl, err := os.ReadFile(o.template)
		if err != nil {
			return nil, fmt.Errorf("read template: %w", err)
		}
		d["config_file"] = base64.StdEncoding.EncodeToString(tmpl)
	}
	for field, v := range map[string]string{"container_image": o.image, "kubernetes_namespace": o.namespace, "cluster_name": o.cluster} {
		if v != "" {
			d[field] = v
		}
	}
	return json.Marshal(d)
}

// metricsProvider also gives the alarm source: CloudWatch alarms can be
// read only with -metrics cloudwatch; without it a deploy.json naming
// analysis.alarms is refused at Validate.
func metricsProvider(ctx context.Context, name string, speed float64) (analysis.Provider, analysis.Alarms, error) {
	if name != "cloudwatch" {
		p, err := synthetic.New(name)
		if err != nil {
			return nil, nil, err
		}
		p.Pace = speed // made-up traffic keeps up with the schedule
		return p, nil, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS configuration for CloudWatch metrics: %w", err)
	}
	return cloudwatch.New(cfg, os.Getenv(contract.EnvAppMeshMetricsNamespace)), cloudwatch.NewAlarmSource(cfg), nil
}

// interruptible sleeps on the schedule and says what an interrupt does.
func interruptible(speed *engine.Speedup) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if err := speed.Sleep(ctx, d); err != nil {
			return errors.New("interrupted: rolling back")
		}
		return nil
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
