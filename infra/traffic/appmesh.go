package traffic

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/lambdas/contract"
)

// App Mesh names and versions.
const (
	AppMeshSystemNamespace = contract.NamespaceAppMeshController
	AppMeshChart           = "appmesh-controller"
	AppMeshChartVersion    = "1.13.3"
	AppMeshChartRepo       = "https://aws.github.io/eks-charts"
	AppMeshControllerSA    = "appmesh-controller"
	// EnvoyServiceAccount is the account every meshed pod runs as; its IAM
	// role lets Envoy fetch its configuration from App Mesh.
	EnvoyServiceAccount = contract.AppMeshEnvoyServiceAccount
	// EnvoyImage matches the sidecar the 1.13.3 controller injects.
	EnvoyImage     = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.3-prod"
	IngressGateway = "ingress-gw"
	ingressPort    = 8088
	appMeshAPI     = "appmesh.k8s.aws/v1beta2"
)

// AppMeshAccess is what App Mesh's pods run as on AWS.
type AppMeshAccess struct {
	// ControllerRoleArn and EnvoyRoleArn are the IAM roles (IRSA) of the
	// controller and of every meshed pod's Envoy.
	ControllerRoleArn, EnvoyRoleArn pulumi.StringInput
	// ControllerReady and EnvoyReady must exist before the controller and
	// the Envoy service account start: the roles' policies.
	ControllerReady, EnvoyReady []pulumi.Resource
}

func (t *Traffic) installAppMesh(ctx *pulumi.Context, name string, args *TrafficArgs) error {
	if args.IngressService == "" {
		return fmt.Errorf("app mesh: IngressService is required (the VirtualService the gateway routes to)")
	}
	sysNs, err := corev1.NewNamespace(ctx, name+"-appmesh-system", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(AppMeshSystemNamespace)},
	}, pulumi.Parent(t))
	if err != nil {
		return fmt.Errorf("app mesh namespace: %w", err)
	}
	access, err := args.Cloud.AppMesh(ctx, t, name, args)
	if err != nil {
		return fmt.Errorf("app mesh: %w", err)
	}

	chart, repo := args.Charts.Source(AppMeshChart, AppMeshChartRepo)
	release, err := kubeinstall.NewRelease(ctx, name+"-appmesh-controller", &kubeinstall.ReleaseArgs{
		Name:      pulumi.String(AppMeshChart),
		Chart:     chart,
		Version:   pulumi.String(AppMeshChartVersion),
		Namespace: sysNs.Metadata.Name(),
		Repo:      repo,
		Values: pulumi.Map{
			"region": pulumi.String(args.Region),
			"serviceAccount": pulumi.Map{
				"create":      pulumi.Bool(true),
				"name":        pulumi.String(AppMeshControllerSA),
				"annotations": pulumi.Map{"eks.amazonaws.com/role-arn": access.ControllerRoleArn},
			},
			// Public ECR serves every region; the chart's default is one
			// regional registry.
			"image":   pulumi.Map{"repository": pulumi.String("public.ecr.aws/appmesh/appmesh-controller")},
			"sidecar": pulumi.Map{"image": pulumi.Map{"repository": pulumi.String("public.ecr.aws/appmesh/aws-appmesh-envoy")}},
			"init":    pulumi.Map{"image": pulumi.Map{"repository": pulumi.String("public.ecr.aws/appmesh/aws-appmesh-proxy-route-manager")}},
		},
		Timeout:       pulumi.Int(600),
		MaxHistory:    pulumi.Int(5),
		CleanupOnFail: pulumi.Bool(true),
	}, pulumi.Parent(t), pulumi.DependsOn(access.ControllerReady))
	if err != nil {
		return fmt.Errorf("app mesh controller release: %w", err)
	}
	t.Controller = release

	// Mesh objects carry controller finalizers and mirror AWS objects: they
	// depend on the release so they are deleted before the controller.
	afterController := pulumi.DependsOn([]pulumi.Resource{release})
	mesh, err := apiextensions.NewCustomResource(ctx, name+"-mesh", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(appMeshAPI),
		Kind:       pulumi.String("Mesh"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace)},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"namespaceSelector": pulumi.Map{"matchLabels": pulumi.StringMap{"mesh": pulumi.String(args.Namespace)}},
			"egressFilter":      pulumi.Map{"type": pulumi.String("DROP_ALL")},
		}},
	}, pulumi.Parent(t), afterController)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}

	// The namespace depends on the mesh too: App Mesh refuses to delete a
	// mesh that still has virtual nodes, so the namespace goes first.
	// Privileged is the only Pod Security level meshed pods pass (their
	// injected init container needs NET_ADMIN); restricted warnings and
	// audit entries still flag everything else a template asks for.
	if err := t.appNamespace(ctx, name, args, PodSecurityPrivileged, pulumi.StringMap{
		"mesh":                                   pulumi.String(args.Namespace),
		"appmesh.k8s.aws/sidecarInjectorWebhook": pulumi.String("enabled"),
		"gateway":                                pulumi.String(IngressGateway),
	}, []pulumi.Resource{release, mesh}); err != nil {
		return err
	}
	inApp := []pulumi.ResourceOption{pulumi.Parent(t), pulumi.DependsOn([]pulumi.Resource{release, mesh, t.AppNamespace})}
	ns := t.AppNamespace.Metadata.Name()

	envoySA, err := corev1.NewServiceAccount(ctx, name+"-envoy-sa", &corev1.ServiceAccountArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(EnvoyServiceAccount),
			Namespace:   ns,
			Annotations: pulumi.StringMap{"eks.amazonaws.com/role-arn": access.EnvoyRoleArn},
		},
	}, append(inApp, pulumi.DependsOn(access.EnvoyReady))...)
	if err != nil {
		return fmt.Errorf("envoy service account: %w", err)
	}

	gateway, err := apiextensions.NewCustomResource(ctx, name+"-virtual-gateway", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(appMeshAPI),
		Kind:       pulumi.String("VirtualGateway"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(IngressGateway), Namespace: ns},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"namespaceSelector": pulumi.Map{"matchLabels": pulumi.StringMap{"gateway": pulumi.String(IngressGateway)}},
			"podSelector":       pulumi.Map{"matchLabels": pulumi.StringMap{"app": pulumi.String(IngressGateway)}},
			"listeners": pulumi.Array{pulumi.Map{
				"portMapping": pulumi.Map{"port": pulumi.Int(ingressPort), "protocol": pulumi.String("http")},
			}},
			"logging": pulumi.Map{"accessLog": pulumi.Map{"file": pulumi.Map{"path": pulumi.String("/dev/stdout")}}},
		}},
	}, inApp...)
	if err != nil {
		return fmt.Errorf("virtual gateway: %w", err)
	}
	// The route names the VirtualService the microservice's template
	// creates; the controller retries until the pipeline has deployed it.
	_, err = apiextensions.NewCustomResource(ctx, name+"-gateway-route", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(appMeshAPI),
		Kind:       pulumi.String("GatewayRoute"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(args.IngressService), Namespace: ns},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"httpRoute": pulumi.Map{
				"match": pulumi.Map{"prefix": pulumi.String("/")},
				"action": pulumi.Map{"target": pulumi.Map{"virtualService": pulumi.Map{
					"virtualServiceRef": pulumi.Map{"name": pulumi.String(args.IngressService)},
				}}},
			},
		}},
	}, append(inApp, pulumi.DependsOn([]pulumi.Resource{gateway}))...)
	if err != nil {
		return fmt.Errorf("gateway route: %w", err)
	}

	labels := pulumi.StringMap{"app": pulumi.String(IngressGateway)}
	deployment, err := appsv1.NewDeployment(ctx, name+"-ingress-deployment", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(IngressGateway), Namespace: ns},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(2),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					ServiceAccountName: pulumi.String(EnvoyServiceAccount),
					// The controller's webhook turns this container into the
					// virtual gateway's Envoy (it matches podSelector).
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("envoy"),
						Image: pulumi.String(EnvoyImage),
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{ContainerPort: pulumi.Int(ingressPort), Name: pulumi.String("http")}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("128Mi")},
							Limits:   pulumi.StringMap{"memory": pulumi.String("512Mi")},
						},
					}},
				},
			},
		},
	}, append(inApp, pulumi.DependsOn([]pulumi.Resource{gateway, envoySA}))...)
	if err != nil {
		return fmt.Errorf("ingress deployment: %w", err)
	}
	// The stable in-cluster entry of the mesh: its address never changes
	// across versions. The public entry (infra/edge) forwards to it, so the
	// stack keeps one public load balancer whatever the layer.
	_, err = corev1.NewService(ctx, name+"-ingress-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(IngressGateway),
			Namespace: ns,
		},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: labels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(80), TargetPort: pulumi.Int(ingressPort), Protocol: pulumi.String("TCP"),
			}},
		},
	}, append(inApp, pulumi.DependsOn([]pulumi.Resource{deployment}))...)
	if err != nil {
		return fmt.Errorf("ingress service: %w", err)
	}
	t.IngressUpstream = IngressGateway + "." + args.Namespace + ".svc.cluster.local"
	return nil
}
