package engine

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/lock"
	"github.com/eks-canary/platform/lambdas/status"
)

// ConfigSource finds the API server of a cluster by its name.
type ConfigSource func(ctx context.Context, clusterName string) (*rest.Config, error)

// RESTConnector opens sessions from a ConfigSource and keeps one client per
// cluster, so a warm Lambda or the local runner pays for discovery and
// credentials once, not at every step.
type RESTConnector struct {
	Source ConfigSource

	mu      sync.Mutex
	clients map[string]*kube.Client
}

// Connect returns a session for the namespace of clusterName.
func (c *RESTConnector) Connect(ctx context.Context, clusterName, namespace string) (*Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	client, ok := c.clients[clusterName]
	if !ok {
		cfg, err := c.Source(ctx, clusterName)
		if err != nil {
			return nil, fmt.Errorf("connect to cluster %s: %w", clusterName, err)
		}
		if client, err = kube.NewClient(cfg); err != nil {
			return nil, fmt.Errorf("connect to cluster %s: %w", clusterName, err)
		}
		if c.clients == nil {
			c.clients = map[string]*kube.Client{}
		}
		c.clients[clusterName] = client
	}
	return &Session{
		Kube:   client,
		Locks:  lock.New(client.Clientset.CoordinationV1(), namespace),
		Status: status.NewEngine(client.Clientset, namespace),
	}, nil
}
