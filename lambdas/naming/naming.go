// Package naming holds the names and labels the engine gives the objects it
// manages, so that the engine, the routers and the operator CLI agree on them.
package naming

import "fmt"

const (
	// FieldManager owns every field the engine writes with server-side apply.
	FieldManager = "canary-engine"
	// ControlFieldManager owns the operator's requests written by canaryctl.
	ControlFieldManager = "canaryctl"

	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "canary-engine"
	// LabelPrefix starts every label the engine gives out; templates may
	// not set any of them, so a label always says what the engine decided.
	LabelPrefix       = "canary.eks-canary.dev/"
	LabelMicroservice = LabelPrefix + "microservice"
	LabelVersion      = LabelPrefix + "version" // set on objects that belong to one version only
	LabelStatus       = LabelPrefix + "status"  // marks rollout status ConfigMaps
	// LabelPreview marks a blue-green preview route object: it reaches one
	// version for testing and carries no production traffic.
	LabelPreview = LabelPrefix + "preview"

	// AnnotationRollingBack on a route names the execution whose roll back
	// has begun: a shift of that execution still in flight sees it and
	// stops instead of sending traffic to a version being deleted.
	AnnotationRollingBack = LabelPrefix + "rolling-back"

	// StatusSuffix and LockSuffix end the names of the engine's own
	// objects; no template object may end in them.
	StatusSuffix = "-rollout"
	LockSuffix   = "-rollout-lock"
	// PreviewSuffix ends the name of a blue-green preview route
	// ("<route>-preview") on routers that keep it as an object of its own.
	PreviewSuffix = "-preview"
)

// VersionName is the name of a version's objects: "<microservice>-<version>".
func VersionName(microservice string, version int) string {
	return fmt.Sprintf("%s-%d", microservice, version)
}

// StatusConfigMap is the ConfigMap holding a microservice's rollout status.
func StatusConfigMap(microservice string) string { return microservice + StatusSuffix }

// LockLease is the Lease that allows one rollout per microservice at a time.
func LockLease(microservice string) string { return microservice + LockSuffix }

// Owned reports whether labels mark an object the engine made for
// microservice. Objects of other microservices, of the platform and made by
// hand are not the engine's to change on this microservice's behalf.
func Owned(labels map[string]string, microservice string) bool {
	return labels[LabelManagedBy] == ManagedByValue && labels[LabelMicroservice] == microservice
}

// PodMetaLabel is how a Kubernetes scrape names the pod label label among
// its discovery labels.
func PodMetaLabel(label string) string {
	return "__meta_kubernetes_pod_label_" + sanitizedLabelName(label)
}

// PodMetaAnnotation is PodMetaLabel for a pod annotation.
func PodMetaAnnotation(annotation string) string {
	return "__meta_kubernetes_pod_annotation_" + sanitizedLabelName(annotation)
}

// sanitizedLabelName is name as Prometheus's discovery writes it: every
// character a label name may not hold turned into '_'.
func sanitizedLabelName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
