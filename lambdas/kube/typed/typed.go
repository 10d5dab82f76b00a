// Package typed is the four API groups of client-go's typed clients that the
// platform calls. client-go's full clientset would compile typed clients,
// apply configurations and informers for every API group (some 300
// packages) into the Lambda binary, the CLI and every test binary, for
// nothing this platform uses.
package typed

import (
	"fmt"
	"time"

	"k8s.io/client-go/discovery"
	appsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	batchv1 "k8s.io/client-go/kubernetes/typed/batch/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Interface is the part of client-go's kubernetes.Interface the platform
// calls, with the same method names and types.
type Interface interface {
	CoreV1() corev1.CoreV1Interface
	AppsV1() appsv1.AppsV1Interface
	BatchV1() batchv1.BatchV1Interface
	CoordinationV1() coordinationv1.CoordinationV1Interface
	Discovery() discovery.DiscoveryInterface
}

type clientset struct {
	core         *corev1.CoreV1Client
	apps         *appsv1.AppsV1Client
	batch        *batchv1.BatchV1Client
	coordination *coordinationv1.CoordinationV1Client
	discovery    *discovery.DiscoveryClient
}

func (c *clientset) CoreV1() corev1.CoreV1Interface                         { return c.core }
func (c *clientset) AppsV1() appsv1.AppsV1Interface                         { return c.apps }
func (c *clientset) BatchV1() batchv1.BatchV1Interface                      { return c.batch }
func (c *clientset) CoordinationV1() coordinationv1.CoordinationV1Interface { return c.coordination }
func (c *clientset) Discovery() discovery.DiscoveryInterface                { return c.discovery }

// NewForConfig builds the clients as kubernetes.NewForConfig does: one HTTP
// transport and one client-side rate limiter shared by every group.
func NewForConfig(c *rest.Config) (Interface, error) {
	cfg := *c
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		if cfg.Burst <= 0 {
			return nil, fmt.Errorf("client config for %s sets QPS %v without a Burst: set Burst above 0", cfg.Host, cfg.QPS)
		}
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	httpClient, err := rest.HTTPClientFor(&cfg)
	if err != nil {
		return nil, fmt.Errorf("HTTP client for %s: %w", cfg.Host, err)
	}
	var cs clientset
	if cs.core, err = corev1.NewForConfigAndClient(&cfg, httpClient); err != nil {
		return nil, fmt.Errorf("core/v1 client for %s: %w", cfg.Host, err)
	}
	if cs.apps, err = appsv1.NewForConfigAndClient(&cfg, httpClient); err != nil {
		return nil, fmt.Errorf("apps/v1 client for %s: %w", cfg.Host, err)
	}
	if cs.batch, err = batchv1.NewForConfigAndClient(&cfg, httpClient); err != nil {
		return nil, fmt.Errorf("batch/v1 client for %s: %w", cfg.Host, err)
	}
	if cs.coordination, err = coordinationv1.NewForConfigAndClient(&cfg, httpClient); err != nil {
		return nil, fmt.Errorf("coordination/v1 client for %s: %w", cfg.Host, err)
	}
	if cs.discovery, err = discovery.NewDiscoveryClientForConfigAndClient(&cfg, httpClient); err != nil {
		return nil, fmt.Errorf("discovery client for %s: %w", cfg.Host, err)
	}
	return &cs, nil
}

// CachedReadWait bounds a read from the API server's watch cache that has
// to wait for the version it asks for. A cache that cannot serve it (another
// API server behind the endpoint, just restarted) answers "too large
// resource version" after 3 s, and client-go retries that answer ten times;
// the caller then reads from etcd instead.
const CachedReadWait = 4 * time.Second
