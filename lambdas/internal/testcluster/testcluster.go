// Package testcluster keeps the former import path of the test control plane
// compiling for the lambdas/engine tests until they import the new one.
//
// Deprecated: import github.com/eks-canary/platform/internal/testcluster.
package testcluster

import "github.com/eks-canary/platform/internal/testcluster"

type (
	Cluster = testcluster.Cluster
	Options = testcluster.Options
)

// New starts a control plane; see the internal/testcluster package.
func New(opts Options) (*Cluster, error) { return testcluster.New(opts) }
