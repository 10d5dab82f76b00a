// Package contract owns every name that the environment program (infra/,
// stacks/) and the canary engine (lambdas/) must agree on. Both sides import
// it; neither retypes a value defined here, and contract_test.go fails when a
// literal copy appears on either side.
//
// It imports nothing but the standard library, so the Pulumi program can use
// it without linking the engine and the engine without linking Pulumi.
package contract

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Traffic routers: the stack's trafficLayer and deploy.json's router take
// these values.
const (
	RouterAppMesh    = "appmesh"
	RouterGatewayAPI = "gatewayapi"
)

// Routers lists every router, the default (VPC Lattice) first.
func Routers() []string { return []string{RouterGatewayAPI, RouterAppMesh} }

// LatticeSettleTime is how long VPC Lattice takes to apply new target
// weights: the engine never analyses sooner after a shift, and the builds
// raise deploy.json's wait_time to it.
const LatticeSettleTime = 90 * time.Second

// AppMeshSettleTime: Envoy picks up new route weights from App Mesh within
// seconds.
const AppMeshSettleTime = 5 * time.Second

// The engine Lambda's environment, set by infra/deployer and read by
// lambdas/cmd/engine.
const (
	EnvEntry                   = "CANARY_ENTRY"
	EnvNotifyTopicArn          = "NOTIFY_TOPIC_ARN"
	EnvAppMeshMetricsNamespace = "APPMESH_METRICS_NAMESPACE"
	EnvLogLevel                = "LOG_LEVEL"
	// EnvServiceDomain is the stack's private DNS domain: templates name
	// it as ${SERVICE_DOMAIN}, and VPC Lattice services get custom domain
	// names under it.
	EnvServiceDomain = "CANARY_SERVICE_DOMAIN"
	// EnvTrafficLayer is the stack's trafficLayer, one of Routers(): the
	// router of every deploy.json that names none. Unset: Routers()[0].
	EnvTrafficLayer = "CANARY_TRAFFIC_LAYER"
)

// Entry points of the engine Lambda, the values of EnvEntry.
const (
	EntryStep            = "step"
	EntryRollbackAborted = "rollback-aborted"
)

// Metrics. The pipeline's metric filters publish MetricRequests and
// MetricErrors5xx per version under MetricsNamespaceAppMesh, which the
// engine reads; the engine publishes its own figures under
// MetricsNamespaceEngine, which the dashboards plot.
const (
	MetricsNamespaceAppMesh = "CanaryDelivery/AppMesh"
	MetricsNamespaceEngine  = "CanaryDelivery"
	MetricRequests          = "Requests"
	MetricErrors5xx         = "Errors5xx"
	MetricCanaryWeight      = "CanaryWeight"
	MetricCanaryRequests    = "CanaryRequests"
	MetricCanaryErrorRate   = "CanaryErrorRate"
)

// The Gateway the environment creates in the application namespace with
// trafficLayer gatewayapi; every HTTPRoute in a template attaches to it.
const (
	GatewayName     = "canary-gateway"
	GatewayListener = "http"
	// GatewayClass is VPC Lattice's, served by the AWS Gateway API Controller.
	GatewayClass = "amazon-vpc-lattice"
)

// Platform namespaces: the environment program installs its controllers
// and the public entry there, and the engine refuses any template that
// names one of them (or kube-*, or default).
const (
	NamespaceAppMeshController = "appmesh-system"
	NamespaceGatewayController = "aws-application-networking-system"
	NamespaceCloudWatch        = "amazon-cloudwatch"
	NamespaceExternalDNS       = "external-dns"
	NamespaceIngress           = "canary-ingress"
)

// PlatformNamespaces lists the namespaces above.
func PlatformNamespaces() []string {
	return []string{NamespaceAppMeshController, NamespaceGatewayController, NamespaceCloudWatch, NamespaceExternalDNS, NamespaceIngress}
}

// Template policy the environment sets on the engine Lambda: what the
// engine's own checks allow beyond their defaults. Both are
// comma-separated lists; empty means none.
const (
	// EnvAllowedServiceAccounts: ServiceAccounts a template's pods may run
	// as besides those the template itself declares (App Mesh's
	// AppMeshEnvoyServiceAccount).
	EnvAllowedServiceAccounts = "CANARY_ALLOWED_SERVICE_ACCOUNTS"
	// EnvAllowedServiceTypes: Service types beyond ClusterIP.
	EnvAllowedServiceTypes = "CANARY_ALLOWED_SERVICE_TYPES"
	// EnvHookFunctions: the Lambda functions rollout hooks may invoke,
	// comma-separated ARNs or ARN prefixes ending in '*'; the state
	// machine's role may invoke exactly these. Empty: no Lambda hooks.
	EnvHookFunctions = "CANARY_HOOK_FUNCTIONS"
	// ConfigHookFunctions is the stack configuration key that fills
	// EnvHookFunctions; refusals of a Lambda hook name it.
	ConfigHookFunctions = "hookFunctions"
	// EnvHookAllowedCIDRs: the private networks (comma-separated CIDRs)
	// webhooks of kind http may reach besides public addresses. Empty:
	// none. Loopback, link-local and metadata addresses are never allowed.
	EnvHookAllowedCIDRs = "CANARY_HOOK_ALLOWED_CIDRS"
	// ConfigHookAllowedCIDRs is the stack configuration key that fills
	// EnvHookAllowedCIDRs; refusals of a webhook's address name it.
	ConfigHookAllowedCIDRs = "hookAllowedCIDRs"
)

// AppMeshEnvoyServiceAccount is the ServiceAccount the environment creates
// for App Mesh pods (its Envoy sidecar reads the mesh configuration).
const AppMeshEnvoyServiceAccount = "appmesh-envoy"

// Metric sources, the values of deploy.json's analysis.provider.
const (
	ProviderCloudWatch = "cloudwatch"
	ProviderPrometheus = "prometheus"
)

// Providers lists every metric source, the default first.
func Providers() []string { return []string{ProviderCloudWatch, ProviderPrometheus} }

// Prometheus. EnvPrometheusURL is the query endpoint the engine reads
// (stack key ConfigPrometheusQueryURL, or the workspace the stack creates):
// a Prometheus server's base URL, or an Amazon Managed Service for
// Prometheus workspace's ("https://aps-workspaces.REGION.amazonaws.com/workspaces/ID"),
// whose queries are signed with SigV4 for service PrometheusSigningService.
// The engine queries PromRequests (a counter by PromLabelCode) and
// PromDuration (a histogram in seconds), the series of one version being
// those whose PromLabelVersion is its object name ("yelb-appserver-3") in
// PromLabelNamespace: the scrape sets both from the pod's namespace and its
// app and version labels, so an application only counts its requests.
const (
	EnvPrometheusURL          = "CANARY_PROMETHEUS_URL"
	ConfigPrometheusQueryURL  = "prometheusQueryUrl"
	ConfigPrometheusWorkspace = "prometheusWorkspace"
	PrometheusSigningService  = "aps"

	PromRequests       = "http_requests_total"
	PromDuration       = "http_request_duration_seconds"
	PromLabelCode      = "code"
	PromLabelNamespace = "namespace"
	PromLabelVersion   = "version"
)

// workspaceURL is an Amazon Managed Service for Prometheus query endpoint:
// the region is in the host name, the workspace in the path.
var workspaceURL = regexp.MustCompile(`^aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com$`)
var workspacePath = regexp.MustCompile(`^/workspaces/(ws-[A-Za-z0-9-]+)/?$`)

// PrometheusWorkspace reads a Prometheus query URL: for an Amazon Managed
// Service for Prometheus workspace's, its region and workspace ID (the
// engine signs queries for that region; the stack lets the engine query
// that workspace only); for any other http(s) URL, ok is false.
func PrometheusWorkspace(address string) (region, workspace string, ok bool, err error) {
	u, err := url.Parse(address)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.User != nil {
		return "", "", false, fmt.Errorf("prometheus query URL %q is not an http(s) base URL: use a Prometheus server's such as http://prometheus.monitoring:9090, "+
			"or an Amazon Managed Service for Prometheus workspace's https://aps-workspaces.REGION.amazonaws.com/workspaces/ID/", address)
	}
	host := workspaceURL.FindStringSubmatch(u.Hostname())
	if host == nil {
		return "", "", false, nil
	}
	path := workspacePath.FindStringSubmatch(u.Path)
	if u.Scheme != "https" || path == nil {
		return "", "", false, fmt.Errorf("prometheus query URL %q: an Amazon Managed Service for Prometheus endpoint is https://%s/workspaces/ID/ (the workspace's prometheusEndpoint)", address, u.Hostname())
	}
	return host[1], path[1], true, nil
}
