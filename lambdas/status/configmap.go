package status

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/eks-canary/platform/lambdas/naming"
)

// Snapshot is everything one status ConfigMap says at one resourceVersion.
type Snapshot struct {
	Status          Status
	Control         Control
	History         []Record
	ResourceVersion string
}

// Decode reads a status ConfigMap. A ConfigMap the engine has not written a
// status into yet decodes to a Status carrying only the microservice name.
// What it reads is untrusted: a ConfigMap that the engine did not label as
// this microservice's status, or whose status names another microservice
// or namespace, is refused, so a status planted under the name of another
// microservice's status is never acted on.
func Decode(cm *corev1.ConfigMap) (Snapshot, error) {
	if err := checkProvenance(cm); err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{ResourceVersion: cm.ResourceVersion}
	if raw := cm.Data[KeyStatus]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &snap.Status); err != nil {
			return Snapshot{}, fmt.Errorf("decode key %q of ConfigMap %s/%s: %w", KeyStatus, cm.Namespace, cm.Name, err)
		}
	}
	if raw := cm.Data[KeyHistory]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &snap.History); err != nil {
			return Snapshot{}, fmt.Errorf("decode key %q of ConfigMap %s/%s: %w", KeyHistory, cm.Namespace, cm.Name, err)
		}
	}
	if raw, ok := cm.Data[KeyPaused]; ok && raw != "" {
		paused, err := strconv.ParseBool(raw)
		if err != nil {
			return Snapshot{}, fmt.Errorf("decode key %q of ConfigMap %s/%s: want \"true\" or \"false\", got %q", KeyPaused, cm.Namespace, cm.Name, raw)
		}
		snap.Control.Paused = paused
	}
	switch req := cm.Data[KeyRequest]; req {
	case "", RequestPromote, RequestAbort:
		snap.Control.Request = req
	default:
		return Snapshot{}, fmt.Errorf("decode key %q of ConfigMap %s/%s: want %q or %q, got %q", KeyRequest, cm.Namespace, cm.Name, RequestPromote, RequestAbort, req)
	}
	owner := cm.Labels[naming.LabelMicroservice]
	switch {
	case snap.Status.Microservice == "":
		snap.Status.Microservice = owner
	case snap.Status.Microservice != owner:
		return Snapshot{}, &UntrustedError{Reason: fmt.Sprintf("status ConfigMap %s/%s says microservice %q, but it is the status of %q: it was not written by the canary engine; delete it (the engine never trusts it)",
			cm.Namespace, cm.Name, snap.Status.Microservice, owner)}
	}
	switch snap.Status.Namespace {
	case "":
		snap.Status.Namespace = cm.Namespace
	case cm.Namespace:
	default:
		return Snapshot{}, &UntrustedError{Reason: fmt.Sprintf("status ConfigMap %s/%s says namespace %q: it was not written by the canary engine; delete it (the engine never trusts it)",
			cm.Namespace, cm.Name, snap.Status.Namespace)}
	}
	return snap, nil
}

// checkProvenance refuses a ConfigMap that does not carry the labels the
// engine gives its status ConfigMaps, for the microservice its name says.
func checkProvenance(cm *corev1.ConfigMap) error {
	owner := cm.Labels[naming.LabelMicroservice]
	if cm.Labels[naming.LabelStatus] == "true" && naming.Owned(cm.Labels, owner) && cm.Name == naming.StatusConfigMap(owner) {
		return nil
	}
	return &UntrustedError{Reason: fmt.Sprintf("ConfigMap %s/%s is not a rollout status written by the canary engine (labels %s=true, %s=%s and %s=<microservice> missing or not matching its name): the engine does not trust it; delete it, and the next rollout writes a fresh status",
		cm.Namespace, cm.Name, naming.LabelStatus, naming.LabelManagedBy, naming.ManagedByValue, naming.LabelMicroservice)}
}

// UntrustedError is a status ConfigMap the engine did not write: nothing in
// it is acted on.
type UntrustedError struct{ Reason string }

func (e *UntrustedError) Error() string { return e.Reason }

// engineData is every data key the engine owns, from a status and a history.
// The engine's apply always carries all of them: under server-side apply a
// key the manager stops sending is deleted.
func engineData(st Status, history []Record) (map[string]string, error) {
	if len(st.Verdicts) > VerdictLimit {
		st.Verdicts = st.Verdicts[:VerdictLimit]
	}
	if len(st.Hooks) > HookResultLimit {
		st.Hooks = st.Hooks[:HookResultLimit]
	}
	statusJSON, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	if len(history) > HistoryLimit {
		history = history[:HistoryLimit]
	}
	if history == nil {
		history = []Record{}
	}
	historyJSON, err := json.Marshal(history)
	if err != nil {
		return nil, fmt.Errorf("encode history: %w", err)
	}
	data := map[string]string{
		KeyStatus:        string(statusJSON),
		KeyHistory:       string(historyJSON),
		KeyPhase:         st.Phase,
		KeyWeight:        strconv.Itoa(st.Weight),
		KeyCanaryVersion: strconv.Itoa(st.CanaryVersion),
		KeyStableVersion: strconv.Itoa(st.StableVersion),
	}
	if st.Reason != "" {
		data[KeyReason] = st.Reason
	}
	return data, nil
}

// controlData is every data key canaryctl owns.
func controlData(c Control) map[string]string {
	data := map[string]string{KeyPaused: strconv.FormatBool(c.Paused)}
	if c.Request != "" {
		data[KeyRequest] = c.Request
	}
	return data
}
