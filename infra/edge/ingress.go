package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/lambdas/contract"
)

// Public entry names and image.
const (
	IngressNamespace = contract.NamespaceIngress
	ProxyName        = "edge-proxy"
	// ProxyImage is nginx built to run unprivileged (uid 101, port 8080),
	// from public ECR, pinned.
	ProxyImage = "public.ecr.aws/nginx/nginx-unprivileged:1.28.0-alpine"
	proxyUID   = 101
	confDir    = "/etc/nginx/edge"
	confFile   = "nginx.conf"
)

// ProxyCommand runs nginx with the shipped file and /tmp as its prefix
// (pid and temporary files); the tests run it the same way.
func ProxyCommand(prefix, conf string) []string {
	return []string{"nginx", "-p", prefix, "-e", "stderr", "-c", conf}
}

// PublicIngressArgs configures the public entry.
type PublicIngressArgs struct {
	// Upstream is the name every request goes to and the Host it carries:
	// the ingress microservice's stable VPC Lattice name, or the App Mesh
	// ingress gateway's Service.
	Upstream     string
	UpstreamPort int
	// Tags go on the load balancer.
	Tags map[string]string
	// DependsOn: what must exist before the proxy can answer.
	DependsOn []pulumi.Resource
}

// PublicIngress is the proxy and its load balancer.
type PublicIngress struct {
	pulumi.ResourceState

	// ApplicationUrl is http://<the load balancer's DNS name>.
	ApplicationUrl pulumi.StringOutput `pulumi:"applicationUrl"`
	Service        *corev1.Service
}

// NewPublicIngress creates the ingress namespace, the nginx proxy (two
// replicas, a disruption budget, probes on its own /healthz) and one
// internet-facing NLB in front of it.
func NewPublicIngress(ctx *pulumi.Context, name string, args *PublicIngressArgs, opts ...pulumi.ResourceOption) (*PublicIngress, error) {
	if args == nil {
		return nil, fmt.Errorf("public ingress %s: arguments are required", name)
	}
	conf, err := ProxyConfig{Listen: strconv.Itoa(ProxyPort), Resolver: ClusterDNS, Upstream: args.Upstream, UpstreamPort: args.UpstreamPort}.Render()
	if err != nil {
		return nil, fmt.Errorf("public ingress %s: %w", name, err)
	}
	p := &PublicIngress{}
	if err := ctx.RegisterComponentResource("canary:infra:PublicIngress", name, p, opts...); err != nil {
		return nil, err
	}
	if err := p.create(ctx, name, args, conf); err != nil {
		return nil, fmt.Errorf("public ingress %s: %w", name, err)
	}
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"applicationUrl": p.ApplicationUrl}); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PublicIngress) create(ctx *pulumi.Context, name string, args *PublicIngressArgs, conf string) error {
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(IngressNamespace), Labels: RestrictedPodSecurity()},
	}, pulumi.Parent(p))
	if err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	inNs := []pulumi.ResourceOption{pulumi.Parent(p), pulumi.DependsOn([]pulumi.Resource{ns})}
	labels := pulumi.StringMap{"app": pulumi.String(ProxyName)}
	meta := func() *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(ProxyName), Namespace: ns.Metadata.Name(), Labels: labels}
	}

	cm, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: meta(),
		Data:     pulumi.StringMap{confFile: pulumi.String(conf)},
	}, inNs...)
	if err != nil {
		return fmt.Errorf("proxy config: %w", err)
	}
	sum := sha256.Sum256([]byte(conf))
	probe := func(failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String("/healthz"), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(5),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	deployment, err := appsv1.NewDeployment(ctx, name+"-proxy", &appsv1.DeploymentArgs{
		Metadata: meta(),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(2),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Strategy: &appsv1.DeploymentStrategyArgs{RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
				MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
			}},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
					// A changed configuration rolls the pods.
					Annotations: pulumi.StringMap{"canary.platform/config-sha256": pulumi.String(hex.EncodeToString(sum[:]))},
				},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(proxyUID),
						RunAsGroup:     pulumi.Int(proxyUID),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					// One replica per node where possible, so a node drain
					// never takes both.
					TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
						MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
						WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
						LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: labels},
					}},
					TerminationGracePeriodSeconds: pulumi.Int(30),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:           pulumi.String("nginx"),
						Image:          pulumi.String(ProxyImage),
						Command:        pulumi.ToStringArray(ProxyCommand("/tmp/", confDir+"/"+confFile)),
						Ports:          corev1.ContainerPortArray{corev1.ContainerPortArgs{ContainerPort: pulumi.Int(ProxyPort), Name: pulumi.String("http")}},
						ReadinessProbe: probe(2),
						LivenessProbe:  probe(6),
						// The load balancer stops sending before nginx stops.
						Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
							Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"sleep", "10"})},
						}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("50m"), "memory": pulumi.String("32Mi")},
							Limits:   pulumi.StringMap{"memory": pulumi.String("128Mi")},
						},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							RunAsNonRoot:             pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
						VolumeMounts: corev1.VolumeMountArray{
							corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(confDir), ReadOnly: pulumi.Bool(true)},
							corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
						},
					}},
					Volumes: corev1.VolumeArray{
						corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: cm.Metadata.Name()}},
						corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("64Mi")}},
					},
				},
			},
		},
	}, append(inNs, pulumi.DependsOn(append([]pulumi.Resource{cm}, args.DependsOn...)))...)
	if err != nil {
		return fmt.Errorf("proxy deployment: %w", err)
	}
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name+"-pdb", &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MinAvailable: pulumi.Int(1),
			Selector:     &metav1.LabelSelectorArgs{MatchLabels: labels},
		},
	}, inNs...); err != nil {
		return fmt.Errorf("proxy disruption budget: %w", err)
	}

	// The one public load balancer of the stack. The cloud provider's
	// service controller makes it an NLB (internet-facing by default) in the
	// public subnets the cluster tags for ELB.
	annotations := pulumi.StringMap{"service.beta.kubernetes.io/aws-load-balancer-type": pulumi.String("nlb")}
	if tags := loadBalancerTags(args.Tags); tags != "" {
		annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"] = pulumi.String(tags)
	}
	service, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ProxyName), Namespace: ns.Metadata.Name(), Labels: labels, Annotations: annotations},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("LoadBalancer"),
			Selector: labels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(80), TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, append(inNs, pulumi.DependsOn([]pulumi.Resource{deployment}))...)
	if err != nil {
		return fmt.Errorf("load balancer service: %w", err)
	}
	p.Service = service
	p.ApplicationUrl = service.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Hostname().
		ApplyT(func(host *string) string {
			if host == nil {
				return ""
			}
			return "http://" + *host
		}).(pulumi.StringOutput)
	return nil
}

// loadBalancerTags renders tags as the annotation's "k=v,k=v", sorted.
func loadBalancerTags(tags map[string]string) string {
	var kv []string
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
