// Command eks-canary is the Pulumi program of the canary delivery platform.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/stacks"
)

func main() {
	pulumi.Run(stacks.Program(stacks.Options{}))
}
