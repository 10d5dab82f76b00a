// Command prepare gives a local control plane what the environment program
// creates on EKS before any rollout: the application namespace with its App
// Mesh labels and Mesh, the envoy ServiceAccount, the database credentials
// Secret and, for the gatewayapi router, the Gateway.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/kube/typed"
)

const fieldManager = "canary-demo"

var meshGVR = schema.GroupVersionResource{Group: "appmesh.k8s.aws", Version: "v1beta2", Resource: "meshes"}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the local control plane (required)")
	namespace := flag.String("namespace", "yelb", "application namespace")
	router := flag.String("router", contract.RouterAppMesh, "traffic router the rollouts use: "+strings.Join(contract.Routers(), " or "))
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "prepare: --kubeconfig is required: the kubeconfig the local control plane wrote")
		os.Exit(2)
	}
	if !slices.Contains(contract.Routers(), *router) {
		fmt.Fprintf(os.Stderr, "prepare: --router %q is not known: use %s\n", *router, strings.Join(contract.Routers(), " or "))
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := prepare(ctx, *kubeconfig, *namespace, *router); err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
}

func prepare(ctx context.Context, kubeconfig, ns, router string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err)
	}
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}

	nsAC := corev1ac.Namespace(ns).WithLabels(map[string]string{
		"mesh": ns, "appmesh.k8s.aws/sidecarInjectorWebhook": "enabled",
	})
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, nsAC, apply); err != nil {
		return fmt.Errorf("apply namespace %s: %w", ns, err)
	}
	// Pods of the templates run as this ServiceAccount (IRSA on EKS).
	if _, err := cs.CoreV1().ServiceAccounts(ns).Apply(ctx, corev1ac.ServiceAccount(contract.AppMeshEnvoyServiceAccount, ns), apply); err != nil {
		return fmt.Errorf("apply ServiceAccount %s: %w", contract.AppMeshEnvoyServiceAccount, err)
	}
	password := make([]byte, 12)
	if _, err := rand.Read(password); err != nil {
		return err
	}
	secret := corev1ac.Secret("yelb-db-credentials", ns).WithType(corev1.SecretTypeOpaque).WithStringData(map[string]string{
		"username": "yelb", "password": hex.EncodeToString(password), "database": "yelbdatabase",
	})
	if _, err := cs.CoreV1().Secrets(ns).Apply(ctx, secret, apply); err != nil {
		return fmt.Errorf("apply Secret yelb-db-credentials: %w", err)
	}

	mesh := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "Mesh",
		"metadata": map[string]any{"name": ns},
		"spec": map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"mesh": ns}},
		},
	}}
	if _, err := dyn.Resource(meshGVR).Apply(ctx, ns, mesh, apply); err != nil {
		return fmt.Errorf("apply Mesh %s: %w", ns, err)
	}
	if router == contract.RouterGatewayAPI {
		if _, err := dyn.Resource(testcluster.GatewayResource).Namespace(ns).Apply(ctx, contract.GatewayName, testcluster.Gateway(ns), apply); err != nil {
			return fmt.Errorf("apply Gateway %s: %w", contract.GatewayName, err)
		}
	}
	return nil
}
