package kube

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FromKubeconfig loads a client configuration the way kubectl does: path if
// given, else $KUBECONFIG, else ~/.kube/config; contextName if given, else
// the current context. Used by the local runner and the CLI.
func FromKubeconfig(path, contextName string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: contextName}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		where := path
		if where == "" {
			where = "$KUBECONFIG or ~/.kube/config"
		}
		if contextName != "" {
			return nil, fmt.Errorf("load kubeconfig %s, context %q: %w", where, contextName, err)
		}
		return nil, fmt.Errorf("load kubeconfig %s: %w", where, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}
