// Package config reads and validates the stack configuration of the canary
// platform. It is plain Go (no Pulumi types) so every rule is a table test;
// stacks adapts it to Pulumi's config. Every error names the key, the bad
// value and what is allowed, and all errors are reported at once.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/hooks"
)

// Node architectures, derived from the instance type.
const (
	ArchARM64 = "arm64"
	ArchX86   = "x86_64"
)

// Keys, without the project prefix (except aws:region).
const (
	KeyRegion            = "aws:region"
	KeyClusterName       = "clusterName"
	KeyKubernetesVersion = "kubernetesVersion"
	KeyInstanceType      = "nodeInstanceType"
	KeyNodeCount         = "nodeCount"
	KeyNodeMinCount      = "nodeMinCount"
	KeyNodeMaxCount      = "nodeMaxCount"
	KeyZones             = "availabilityZones"
	KeyTrafficLayer      = "trafficLayer"
	KeyNamespace         = "namespace"
	KeyMicroservices     = "microservices"
	KeyIngressService    = "ingressService"
	KeySampleMode        = "sampleMode"
	KeyBranch            = "branch"
	KeyEmail             = "notificationEmail"
	KeyManualApproval    = "manualApproval"
	KeyBuildComputeType  = "buildComputeType"
	KeyLogRetention      = "logRetentionDays"
	KeyRolloutTimeout    = contract.ConfigRolloutTimeout
	KeyDBPassword        = "dbPassword"
	KeyServiceDomain     = "serviceDomain"
	KeyHostedZoneID      = "hostedZoneId"
	KeyPublicIngress     = "publicIngress"
	KeyHookFunctions     = contract.ConfigHookFunctions
	KeyHookAllowedCIDRs  = contract.ConfigHookAllowedCIDRs
	KeyPrometheusURL     = contract.ConfigPrometheusQueryURL
	KeyPrometheusWS      = contract.ConfigPrometheusWorkspace
)

// ServiceDomainSuffix ends the default service domain: "internal" is the
// top-level domain ICANN reserves for private use, so the name never
// collides with a public one.
const ServiceDomainSuffix = ".internal"

// DefaultMicroservices is the sample application (Yelb).
var DefaultMicroservices = []string{"yelb-ui", "yelb-appserver", "yelb-db", "redis-server"}

// RetentionDays are the values CloudWatch Logs accepts.
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Compute types CodeBuild offers per architecture (aarch64 images run on
// SMALL and LARGE only). 2XLARGE has no local cache: the pipeline caches its
// Docker layers in the artifact bucket instead.
var computeTypes = map[string][]string{
	ArchARM64: {"BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_LARGE"},
	ArchX86:   {"BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE", "BUILD_GENERAL1_2XLARGE"},
}

// Config is a validated stack configuration.
type Config struct {
	Region                string
	ClusterName           string
	KubernetesVersion     string // empty: the EKS default
	NodeInstanceType      string
	NodeArchitecture      string // ArchARM64 or ArchX86
	NodeCount             int
	NodeMinCount          int
	NodeMaxCount          int
	AvailabilityZones     int
	TrafficLayer          string
	Namespace             string
	Microservices         []Microservice
	IngressService        string
	SampleMode            bool
	Branch                string
	NotificationEmail     string
	ManualApproval        bool
	BuildComputeType      string
	LogRetentionDays      int
	RolloutTimeoutSeconds int
	DBPassword            string // empty: generated once and kept
	// ServiceDomain is the private DNS domain of the stable VPC Lattice
	// names "<microservice>.<namespace>.<ServiceDomain>" (gatewayapi).
	ServiceDomain string
	// HostedZoneID names an existing Route 53 private zone to use instead of
	// creating one; ServiceDomain is then the zone's name or lies under it.
	HostedZoneID string
	// PublicIngress puts an internet-facing NLB and a proxy in front of the
	// ingress microservice; false keeps the platform private.
	PublicIngress bool
	// HookFunctions are the Lambda functions rollout hooks may invoke:
	// ARNs, or prefixes ending in '*'. Empty: no Lambda hooks.
	HookFunctions []string
	// HookAllowedCIDRs are the private networks webhooks may reach, as
	// canonical CIDRs. Empty: public addresses only.
	HookAllowedCIDRs []string
	// PrometheusQueryURL is the query endpoint of analysis.provider
	// "prometheus"; empty: deploy.json may not name that provider.
	PrometheusQueryURL string
	// PrometheusWorkspace creates an Amazon Managed Service for Prometheus
	// workspace and its managed collector for that provider instead.
	PrometheusWorkspace bool
}

// Microservice is one entry of the microservices list.
type Microservice struct {
	Name             string `json:"name"`
	BuildComputeType string `json:"buildComputeType,omitempty"` // empty: the stack's buildComputeType
}

// AMIType is the EKS managed node group AMI for the node architecture.
func (c Config) AMIType() string {
	if c.NodeArchitecture == ArchARM64 {
		return "AL2023_ARM_64_STANDARD"
	}
	return "AL2023_x86_64_STANDARD"
}

// Lookup returns a raw config value; ok is false when the key is unset.
type Lookup func(key string) (value string, ok bool)

var (
	dnsLabel      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	clusterNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	regionRe      = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	instanceRe    = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	versionRe     = regexp.MustCompile(`^1\.[0-9]{2}$`)
	gravitonRe    = regexp.MustCompile(`^[a-z]+[0-9]+[a-z-]*$`)
	branchRe      = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	zoneIDRe      = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
)

// DefaultServiceDomain derives the service domain from the cluster name
// (letters, digits and '-'): lower case, under ServiceDomainSuffix.
func DefaultServiceDomain(clusterName string) string {
	return strings.ToLower(clusterName) + ServiceDomainSuffix
}

// domainProblem explains why d cannot be the service domain, or returns "".
// The longest stable name adds a microservice (40) and a namespace (63)
// label in front, and DNS names stop at 253 characters.
func domainProblem(d string) string {
	const reserve = 40 + 1 + 63 + 1
	if len(d)+reserve > 253 {
		return fmt.Sprintf("at most %d characters, so that <microservice>.<namespace>.<domain> fits in 253", 253-reserve)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "a DNS name of at least two labels, such as canary-dev.internal"
	}
	for _, l := range labels {
		if len(l) > 63 || !dnsLabel.MatchString(l) {
			return "a DNS name of lower-case labels (letters, digits, '-', at most 63 characters each), such as canary-dev.internal"
		}
	}
	return ""
}

// Architecture derives the CPU architecture of an EC2 instance type: Graviton
// families carry a "g" among the letters after the generation digit (t4g,
// m7gd, c6gn, x8g), plus the first generation a1; GPU families such as g5 or
// g4dn keep theirs in front.
func Architecture(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	if family == "a1" {
		return ArchARM64
	}
	if !gravitonRe.MatchString(family) {
		return ArchX86
	}
	i := strings.IndexAny(family, "0123456789")
	suffix := strings.TrimLeft(family[i:], "0123456789")
	if strings.Contains(suffix, "g") {
		return ArchARM64
	}
	return ArchX86
}

type reader struct {
	get  Lookup
	errs []error
}

func (r *reader) fail(key, value, allowed string) {
	r.errs = append(r.errs, fmt.Errorf("config %s: %q is not valid: %s", key, value, allowed))
}

func (r *reader) string(key, def string) string {
	if v, ok := r.get(key); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) int(key string, def, lo, hi int) int {
	v, ok := r.get(key)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(key, v, fmt.Sprintf("allowed values are whole numbers from %d to %d", lo, hi))
		return def
	}
	return n
}

func (r *reader) bool(key string, def bool) bool {
	v, ok := r.get(key)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, v, "allowed values are true or false")
		return def
	}
	return b
}

func (r *reader) oneOf(key, def string, allowed []string) string {
	v := r.string(key, def)
	if !slices.Contains(allowed, v) {
		r.fail(key, v, "allowed values are "+strings.Join(allowed, ", "))
		return def
	}
	return v
}

// Load reads every key, applies defaults and validates. stack names the
// default cluster ("canary-<stack>").
func Load(stack string, get Lookup) (Config, error) {
	r := &reader{get: get}
	var c Config

	c.Region = r.string(KeyRegion, "")
	if c.Region == "" {
		r.errs = append(r.errs, fmt.Errorf("config %s is not set: run `pulumi config set aws:region us-west-2` (any AWS region code)", KeyRegion))
	} else if !regionRe.MatchString(c.Region) {
		r.fail(KeyRegion, c.Region, "allowed values are AWS region codes such as us-west-2")
	}

	c.ClusterName = r.string(KeyClusterName, "canary-"+stack)
	if len(c.ClusterName) > 100 || !clusterNameRe.MatchString(c.ClusterName) {
		r.fail(KeyClusterName, c.ClusterName, "allowed values are 1-100 letters, digits, '-' and '_', starting with a letter or digit")
	}
	c.KubernetesVersion = r.string(KeyKubernetesVersion, "")
	if c.KubernetesVersion != "" && !versionRe.MatchString(c.KubernetesVersion) {
		r.fail(KeyKubernetesVersion, c.KubernetesVersion, "allowed values are EKS versions such as 1.33, or unset for the EKS default")
	}

	c.NodeInstanceType = r.string(KeyInstanceType, "t4g.medium")
	if !instanceRe.MatchString(c.NodeInstanceType) {
		r.fail(KeyInstanceType, c.NodeInstanceType, "allowed values are EC2 instance types such as t4g.medium, m7g.large or m6i.large")
	}
	c.NodeArchitecture = Architecture(c.NodeInstanceType)
	c.NodeCount = r.int(KeyNodeCount, 3, 1, 100)
	c.NodeMinCount = r.int(KeyNodeMinCount, min(2, c.NodeCount), 1, 100)
	c.NodeMaxCount = r.int(KeyNodeMaxCount, max(5, c.NodeCount), 1, 100)
	if c.NodeMinCount > c.NodeCount || c.NodeCount > c.NodeMaxCount {
		r.errs = append(r.errs, fmt.Errorf("config %s/%s/%s: %d/%d/%d is not valid: the counts must satisfy nodeMinCount <= nodeCount <= nodeMaxCount",
			KeyNodeMinCount, KeyNodeCount, KeyNodeMaxCount, c.NodeMinCount, c.NodeCount, c.NodeMaxCount))
	}
	c.AvailabilityZones = r.int(KeyZones, 3, 2, 3)

	c.TrafficLayer = r.oneOf(KeyTrafficLayer, contract.RouterGatewayAPI, []string{contract.RouterAppMesh, contract.RouterGatewayAPI})
	c.Namespace = r.string(KeyNamespace, "yelb")
	if len(c.Namespace) > 63 || !dnsLabel.MatchString(c.Namespace) {
		r.fail(KeyNamespace, c.Namespace, "allowed values are Kubernetes namespace names: lower-case letters, digits and '-', at most 63 characters")
	}

	c.BuildComputeType = r.oneOf(KeyBuildComputeType, "BUILD_GENERAL1_SMALL", computeTypes[c.NodeArchitecture])
	c.Microservices = r.microservices(c.NodeArchitecture)
	if clusterNameRe.MatchString(c.ClusterName) && len(c.ClusterName) <= 100 {
		r.errs = append(r.errs, checkDerivedNames(c.ClusterName, names(c.Microservices))...)
	}
	c.IngressService = r.string(KeyIngressService, "yelb-ui")
	if len(c.IngressService) > 63 || !dnsLabel.MatchString(c.IngressService) {
		r.fail(KeyIngressService, c.IngressService, "allowed values are Kubernetes service names: lower-case letters, digits and '-'")
	}

	c.SampleMode = r.bool(KeySampleMode, true)
	c.Branch = r.string(KeyBranch, "main")
	if !branchRe.MatchString(c.Branch) || strings.Contains(c.Branch, "..") || strings.HasPrefix(c.Branch, "/") || strings.HasSuffix(c.Branch, "/") {
		r.fail(KeyBranch, c.Branch, "allowed values are git branch names such as main or release/1")
	}
	c.NotificationEmail = r.string(KeyEmail, "")
	if c.NotificationEmail != "" {
		if a, err := mail.ParseAddress(c.NotificationEmail); err != nil || a.Address != c.NotificationEmail {
			r.fail(KeyEmail, c.NotificationEmail, "allowed values are one plain e-mail address such as ops@example.com, or unset")
		}
	}
	c.ManualApproval = r.bool(KeyManualApproval, false)

	retention := r.string(KeyLogRetention, "14")
	days, err := strconv.Atoi(retention)
	if err != nil || !slices.Contains(RetentionDays, days) {
		r.fail(KeyLogRetention, retention, "allowed values are "+joinInts(RetentionDays))
		days = 14
	}
	c.LogRetentionDays = days
	c.RolloutTimeoutSeconds = r.int(KeyRolloutTimeout, int(contract.DefaultRolloutTimeout/time.Second), 300, 86400)
	c.DBPassword = r.string(KeyDBPassword, "")
	if c.DBPassword != "" && (len(c.DBPassword) < 12 || strings.ContainsAny(c.DBPassword, "'\"\\ ")) {
		r.errs = append(r.errs, fmt.Errorf("config %s: the value is not valid (not shown): use at least 12 characters without quotes, backslashes or spaces, set with --secret", KeyDBPassword))
	}

	c.HostedZoneID = r.string(KeyHostedZoneID, "")
	if c.HostedZoneID != "" && !zoneIDRe.MatchString(c.HostedZoneID) {
		r.fail(KeyHostedZoneID, c.HostedZoneID, "allowed values are Route 53 hosted zone IDs such as Z0123456789ABCDEFGHIJ, or unset to create a private zone")
	}
	domain, set := r.get(KeyServiceDomain)
	c.ServiceDomain = strings.TrimSuffix(domain, ".")
	switch {
	case set && c.ServiceDomain != "":
		if p := domainProblem(c.ServiceDomain); p != "" {
			r.fail(KeyServiceDomain, domain, "allowed values are "+p)
		}
	case c.HostedZoneID != "":
		r.errs = append(r.errs, fmt.Errorf("config %s is not set: with %s the domain must be named: run `pulumi config set %s <the zone's name or a domain under it>`",
			KeyServiceDomain, KeyHostedZoneID, KeyServiceDomain))
	default:
		c.ServiceDomain = DefaultServiceDomain(c.ClusterName)
		if p := domainProblem(c.ServiceDomain); p != "" {
			r.errs = append(r.errs, fmt.Errorf("config %s: %q (derived from %s) is not valid: %s; set %s explicitly",
				KeyServiceDomain, c.ServiceDomain, KeyClusterName, p, KeyServiceDomain))
		}
	}
	c.PublicIngress = r.bool(KeyPublicIngress, true)
	c.HookFunctions = r.hookFunctions()
	c.HookAllowedCIDRs = r.hookAllowedCIDRs()
	c.PrometheusQueryURL = r.string(KeyPrometheusURL, "")
	if c.PrometheusQueryURL != "" {
		if _, _, _, err := contract.PrometheusWorkspace(c.PrometheusQueryURL); err != nil {
			r.fail(KeyPrometheusURL, c.PrometheusQueryURL, "allowed values are a Prometheus server's base URL (http://prometheus.monitoring:9090) or "+
				"an Amazon Managed Service for Prometheus workspace's prometheusEndpoint (https://aps-workspaces.REGION.amazonaws.com/workspaces/ID/), or unset")
		}
	}
	c.PrometheusWorkspace = r.bool(KeyPrometheusWS, false)
	if c.PrometheusWorkspace && c.PrometheusQueryURL != "" {
		r.errs = append(r.errs, fmt.Errorf("config %s: true together with %s %q: the stack would create a workspace the engine does not query; "+
			"unset %s to query the new workspace, or set %s to false to keep querying that endpoint",
			KeyPrometheusWS, KeyPrometheusURL, c.PrometheusQueryURL, KeyPrometheusURL, KeyPrometheusWS))
	}
	return c, errors.Join(r.errs...)
}

// microservices reads the list: each entry is a name or an object
// {"name": ..., "buildComputeType": ...}.
func (r *reader) microservices(arch string) []Microservice {
	raw, ok := r.get(KeyMicroservices)
	if !ok || strings.TrimSpace(raw) == "" {
		out := make([]Microservice, len(DefaultMicroservices))
		for i, n := range DefaultMicroservices {
			out[i] = Microservice{Name: n}
		}
		return out
	}
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		r.fail(KeyMicroservices, raw, `allowed values are a list of names or of {"name": ..., "buildComputeType": ...} objects`)
		return nil
	}
	if len(entries) == 0 {
		r.fail(KeyMicroservices, raw, "the list must name at least one microservice")
	}
	var out []Microservice
	seen := map[string]bool{}
	for i, e := range entries {
		var m Microservice
		var name string
		if err := json.Unmarshal(e, &name); err == nil {
			m.Name = name
		} else {
			dec := json.NewDecoder(strings.NewReader(string(e)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				r.fail(fmt.Sprintf("%s[%d]", KeyMicroservices, i), string(e), `allowed values are a name or {"name": ..., "buildComputeType": ...}`)
				continue
			}
		}
		key := fmt.Sprintf("%s[%d].name", KeyMicroservices, i)
		// The name becomes an ECR and CodeCommit repository, a Kubernetes
		// label value and a CloudWatch dimension: keep it a DNS label.
		if len(m.Name) > 40 || !dnsLabel.MatchString(m.Name) {
			r.fail(key, m.Name, "allowed values are lower-case letters, digits and '-', at most 40 characters")
			continue
		}
		if seen[m.Name] {
			r.fail(key, m.Name, "each microservice may appear once")
			continue
		}
		seen[m.Name] = true
		if m.BuildComputeType != "" && !slices.Contains(computeTypes[arch], m.BuildComputeType) {
			r.fail(fmt.Sprintf("%s[%d].buildComputeType", KeyMicroservices, i), m.BuildComputeType,
				fmt.Sprintf("allowed values on %s nodes are %s", arch, strings.Join(computeTypes[arch], ", ")))
			continue
		}
		out = append(out, m)
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// hookFunctions reads a JSON list of Lambda function ARNs or prefixes.
func (r *reader) hookFunctions() []string {
	raw, ok := r.get(KeyHookFunctions)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	var list []string
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		r.fail(KeyHookFunctions, raw, "allowed values are a list of Lambda function ARNs or ARN prefixes ending in '*', e.g. [\"arn:aws:lambda:us-west-2:123456789012:function:canary-hook-*\"]")
		return nil
	}
	out, err := hooks.ParseFunctions(strings.Join(list, ","))
	if err != nil {
		r.fail(KeyHookFunctions, raw, err.Error())
		return nil
	}
	return out
}

// hookAllowedCIDRs reads a JSON list of CIDRs, refusing any that overlaps
// loopback, link-local, unspecified or metadata addresses.
func (r *reader) hookAllowedCIDRs() []string {
	raw, ok := r.get(KeyHookAllowedCIDRs)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	var list []string
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		r.fail(KeyHookAllowedCIDRs, raw, "allowed values are a list of private networks as CIDRs, e.g. [\"10.20.0.0/16\"]")
		return nil
	}
	prefixes, err := hooks.ParseCIDRs(strings.Join(list, ","))
	if err != nil {
		r.fail(KeyHookAllowedCIDRs, raw, err.Error())
		return nil
	}
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p.String()
	}
	return out
}
