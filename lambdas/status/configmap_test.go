package status

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/lambdas/naming"
)

func statusCM(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: "yelb-appserver-rollout", Namespace: "yelb", ResourceVersion: "42",
			Labels: map[string]string{naming.LabelStatus: "true", naming.LabelMicroservice: "yelb-appserver", naming.LabelManagedBy: naming.ManagedByValue},
		},
		Data: data,
	}
}

// A status is read back from the cluster, where a template or a person may
// have written it: only the engine's own, for the microservice its name
// says, is trusted.
func TestDecodeRefusesAStatusTheEngineDidNotWrite(t *testing.T) {
	valid := map[string]string{KeyStatus: `{"microservice":"yelb-appserver","namespace":"yelb","phase":"Progressing"}`}
	tests := []struct {
		name    string
		change  func(*corev1.ConfigMap)
		wantErr string
	}{
		{"no status label", func(cm *corev1.ConfigMap) { delete(cm.Labels, naming.LabelStatus) }, "is not a rollout status written by the canary engine"},
		{"not managed by the engine", func(cm *corev1.ConfigMap) { cm.Labels[naming.LabelManagedBy] = "Helm" }, "is not a rollout status written by the canary engine"},
		{"labelled for another microservice", func(cm *corev1.ConfigMap) { cm.Labels[naming.LabelMicroservice] = "yelb-ui" }, "is not a rollout status written by the canary engine"},
		{"a template's ConfigMap under another name", func(cm *corev1.ConfigMap) { cm.Name = "yelb-appserver-config" }, "is not a rollout status written by the canary engine"},
		{"status of another microservice", func(cm *corev1.ConfigMap) {
			cm.Data[KeyStatus] = `{"microservice":"yelb-ui","phase":"Progressing","stableTemplate":"cHJpdmlsZWdlZA=="}`
		}, `says microservice "yelb-ui", but it is the status of "yelb-appserver"`},
		{"status of another namespace", func(cm *corev1.ConfigMap) {
			cm.Data[KeyStatus] = `{"microservice":"yelb-appserver","namespace":"other","phase":"Progressing"}`
		}, `says namespace "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := statusCM(map[string]string{KeyStatus: valid[KeyStatus]})
			tt.change(cm)
			_, err := Decode(cm)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "delete it") {
				t.Fatalf("error = %v, want one containing %q and the fix", err, tt.wantErr)
			}
		})
	}
	if _, err := Decode(statusCM(valid)); err != nil {
		t.Fatalf("the engine's own status is refused: %v", err)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    Snapshot
		wantErr string
	}{
		{
			name: "full",
			data: map[string]string{
				KeyStatus:  `{"microservice":"yelb-appserver","namespace":"yelb","phase":"Progressing","weight":30,"canaryVersion":4}`,
				KeyHistory: `[{"microservice":"yelb-appserver","canaryVersion":3,"phase":"Succeeded"}]`,
				KeyPaused:  "true",
				KeyRequest: "abort",
			},
			want: Snapshot{
				Status:          Status{Microservice: "yelb-appserver", Namespace: "yelb", Phase: PhaseProgressing, Weight: 30, CanaryVersion: 4},
				Control:         Control{Paused: true, Request: RequestAbort},
				History:         []Record{{Microservice: "yelb-appserver", CanaryVersion: 3, Phase: PhaseSucceeded}},
				ResourceVersion: "42",
			},
		},
		{
			name: "no status yet takes the name from the labels",
			data: map[string]string{KeyPaused: "false"},
			want: Snapshot{Status: Status{Microservice: "yelb-appserver", Namespace: "yelb"}, ResourceVersion: "42"},
		},
		{name: "broken status", data: map[string]string{KeyStatus: "{"}, wantErr: `decode key "status" of ConfigMap yelb/yelb-appserver-rollout`},
		{name: "broken history", data: map[string]string{KeyHistory: "{}"}, wantErr: `decode key "history"`},
		{name: "paused not a bool", data: map[string]string{KeyPaused: "yes please"}, wantErr: `want "true" or "false", got "yes please"`},
		{name: "unknown request", data: map[string]string{KeyRequest: "restart"}, wantErr: `want "promote" or "abort", got "restart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(statusCM(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestEngineDataKeepsEngineKeysOnly(t *testing.T) {
	verdicts := make([]Verdict, VerdictLimit+3)
	for i := range verdicts {
		verdicts[i] = Verdict{Weight: 100 - i, Result: "pass"}
	}
	history := make([]Record, HistoryLimit+5)
	for i := range history {
		history[i] = Record{CanaryVersion: 100 - i}
	}
	st := Status{Microservice: "yelb-appserver", Phase: PhaseRolledBack, Weight: 0, CanaryVersion: 7, StableVersion: 6,
		Reason: "success rate 91% below 99%", Verdicts: verdicts, UpdatedAt: time.Unix(0, 0).UTC()}
	data, err := engineData(st, history)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{KeyPhase: "RolledBack", KeyWeight: "0", KeyCanaryVersion: "7", KeyStableVersion: "6", KeyReason: "success rate 91% below 99%"}
	for k, v := range want {
		if data[k] != v {
			t.Errorf("data[%q] = %q, want %q", k, data[k], v)
		}
	}
	for _, k := range []string{KeyPaused, KeyRequest} {
		if _, ok := data[k]; ok {
			t.Errorf("engine data carries operator key %q", k)
		}
	}
	var decoded Status
	if err := json.Unmarshal([]byte(data[KeyStatus]), &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded.Verdicts) != VerdictLimit || decoded.Verdicts[0].Weight != 100 {
		t.Errorf("verdicts kept = %d starting at weight %d, want the newest %d", len(decoded.Verdicts), decoded.Verdicts[0].Weight, VerdictLimit)
	}
	var records []Record
	if err := json.Unmarshal([]byte(data[KeyHistory]), &records); err != nil {
		t.Fatal(err)
	}
	if len(records) != HistoryLimit || records[0].CanaryVersion != 100 || records[HistoryLimit-1].CanaryVersion != 100-HistoryLimit+1 {
		t.Errorf("history kept %d records from v%d, want the newest %d", len(records), records[0].CanaryVersion, HistoryLimit)
	}

	st.Reason = ""
	data, err = engineData(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := data[KeyReason]; ok {
		t.Error("an empty reason must leave the key out, so that apply removes a stale one")
	}
	if data[KeyHistory] != "[]" {
		t.Errorf("empty history = %q, want []", data[KeyHistory])
	}
}

func TestControlDataKeepsOperatorKeysOnly(t *testing.T) {
	tests := []struct {
		c    Control
		want map[string]string
	}{
		{Control{}, map[string]string{KeyPaused: "false"}},
		{Control{Paused: true}, map[string]string{KeyPaused: "true"}},
		{Control{Request: RequestAbort}, map[string]string{KeyPaused: "false", KeyRequest: "abort"}},
	}
	for _, tt := range tests {
		got := controlData(tt.c)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("controlData(%+v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}
