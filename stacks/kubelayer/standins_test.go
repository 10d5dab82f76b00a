package kubelayer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/infra/edge"
	"github.com/eks-canary/platform/infra/traffic"
)

// What AWS would hand the layer, as plain values.
const (
	accountID = "123456789012"
	vpcID     = "vpc-0local"
	zoneID    = "Z0LOCALZONE"
)

// plainTraffic is a traffic layer's AWS side with nothing to create: the
// roles exist by name only.
type plainTraffic struct{}

func (plainTraffic) AppMesh(*pulumi.Context, *traffic.Traffic, string, *traffic.TrafficArgs) (*traffic.AppMeshAccess, error) {
	return &traffic.AppMeshAccess{
		ControllerRoleArn: pulumi.String("arn:aws:iam::" + accountID + ":role/appmesh-controller"),
		EnvoyRoleArn:      pulumi.String("arn:aws:iam::" + accountID + ":role/appmesh-envoy"),
	}, nil
}

func (plainTraffic) GatewayAPI(*pulumi.Context, *traffic.Traffic, string, *traffic.TrafficArgs, pulumi.StringInput) (*traffic.GatewayAccess, error) {
	return &traffic.GatewayAccess{}, nil
}

// plainDNS is a private zone that exists by ID only.
type plainDNS struct{}

func (plainDNS) Zone(*pulumi.Context, *edge.ServiceDNS, string, *edge.ServiceDNSArgs) (pulumi.StringOutput, pulumi.Resource, error) {
	return pulumi.String(zoneID).ToStringOutput(), nil, nil
}

func (plainDNS) ExternalDNS(*pulumi.Context, *edge.ServiceDNS, string, *edge.ServiceDNSArgs, pulumi.StringOutput, pulumi.StringInput) ([]pulumi.Resource, error) {
	return nil, nil
}

var (
	mutatingWebhooks   = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	validatingWebhooks = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	services           = schema.GroupVersionResource{Version: "v1", Resource: "services"}
)

// admitEverything stands in for the controllers' admission webhooks: their
// pods are kwok's and serve nothing, yet the charts register webhooks that
// fail closed. It answers every review with "allowed" on 127.0.0.1 and
// points each webhook the charts create at itself, as the cluster network
// would route them to the controller.
func admitEverything(t *testing.T, ctx context.Context, dyn dynamic.Interface) {
	t.Helper()
	caPEM, cert := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(allow),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "https://" + ln.Addr().String()

	redirect := func(obj *unstructured.Unstructured) bool {
		hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		changed := false
		for i, h := range hooks {
			hook, ok := h.(map[string]any)
			if !ok {
				continue
			}
			client, _ := hook["clientConfig"].(map[string]any)
			svc, ok := client["service"].(map[string]any)
			if !ok {
				continue
			}
			path, _ := svc["path"].(string)
			hook["clientConfig"] = map[string]any{"url": base + path, "caBundle": caPEM}
			hooks[i] = hook
			changed = true
		}
		if changed {
			_ = unstructured.SetNestedSlice(obj.Object, hooks, "webhooks")
		}
		return changed
	}
	for _, gvr := range []schema.GroupVersionResource{mutatingWebhooks, validatingWebhooks} {
		go keepFixed(ctx, dyn.Resource(gvr), redirect, false)
	}
}

// allow answers an AdmissionReview (v1 or v1beta1) with allowed: true.
func allow(w http.ResponseWriter, r *http.Request) {
	var review struct {
		APIVersion string `json:"apiVersion"`
		Request    struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": review.APIVersion,
		"kind":       "AdmissionReview",
		"response":   map[string]any{"uid": review.Request.UID, "allowed": true},
	})
}

// provisionLoadBalancers stands in for the AWS Load Balancer Controller:
// every Service of type LoadBalancer gets a host name, as an NLB's.
func provisionLoadBalancers(ctx context.Context, dyn dynamic.Interface) {
	assign := func(obj *unstructured.Unstructured) bool {
		if kind, _, _ := unstructured.NestedString(obj.Object, "spec", "type"); kind != "LoadBalancer" {
			return false
		}
		if ingress, _, _ := unstructured.NestedSlice(obj.Object, "status", "loadBalancer", "ingress"); len(ingress) > 0 {
			return false
		}
		host := fmt.Sprintf("%s-%s.elb.us-west-2.amazonaws.com", obj.GetName(), obj.GetNamespace())
		_ = unstructured.SetNestedSlice(obj.Object, []any{map[string]any{"hostname": host}}, "status", "loadBalancer", "ingress")
		return true
	}
	go keepFixed(ctx, dyn.Resource(services), assign, true)
}

// keepFixed applies fix to every object of a resource as it appears or
// changes, and writes back those it changed (their status, if status),
// until ctx ends.
func keepFixed(ctx context.Context, res dynamic.NamespaceableResourceInterface, fix func(*unstructured.Unstructured) bool, status bool) {
	for ctx.Err() == nil {
		w, err := res.Namespace(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || !fix(obj) {
				continue
			}
			client := res.Namespace(obj.GetNamespace())
			if status {
				_, _ = client.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
			} else {
				_, _ = client.Update(ctx, obj, metav1.UpdateOptions{})
			}
		}
		w.Stop()
	}
}

// selfSigned is a certificate for 127.0.0.1 and its PEM, which webhooks
// carry as their caBundle.
func selfSigned(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "admission stand-in"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(certPEM), cert
}
