// Package naming holds the names and labels the engine gives the objects it
// manages, so that the engine, the routers and the operator CLI agree on them.
package naming

import "fmt"

const (
	// FieldManager owns every field the engine writes with server-side apply.
	FieldManager = "canary-engine"
	// ControlFieldManager owns the operator's requests written by canaryctl.
	ControlFieldManager = "canaryctl"

	LabelManagedBy    = "app.kubernetes.io/managed-by"
	ManagedByValue    = "canary-engine"
	LabelMicroservice = "canary.eks-canary.dev/microservice"
	LabelVersion      = "canary.eks-canary.dev/version" // set on objects that belong to one version only
	LabelStatus       = "canary.eks-canary.dev/status"  // marks rollout status ConfigMaps
	// LabelPreview marks a blue-green preview route object: it reaches one
	// version for testing and carries no production traffic.
	LabelPreview = "canary.eks-canary.dev/preview"
)

// VersionName is the name of a version's objects: "<microservice>-<version>".
func VersionName(microservice string, version int) string {
	return fmt.Sprintf("%s-%d", microservice, version)
}

// StatusConfigMap is the ConfigMap holding a microservice's rollout status.
func StatusConfigMap(microservice string) string { return microservice + "-rollout" }

// LockLease is the Lease that allows one rollout per microservice at a time.
func LockLease(microservice string) string { return microservice + "-rollout-lock" }
