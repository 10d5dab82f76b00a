// Package manifests holds the Kubernetes manifests the environment program
// embeds; its test decodes them as the Kubernetes provider does.
package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eks-canary/platform/internal/upstream"
)

const gatewayAPIFile = "gateway-api-standard-v1.6.3.yaml"

// gatewayAPIObjects is what the standard channel of v1.6.3 holds.
var gatewayAPIObjects = map[string][]string{
	"apiextensions.k8s.io/v1/CustomResourceDefinition": {
		"backendtlspolicies.gateway.networking.k8s.io", "gatewayclasses.gateway.networking.k8s.io",
		"gateways.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io",
		"httproutes.gateway.networking.k8s.io", "listenersets.gateway.networking.k8s.io",
		"referencegrants.gateway.networking.k8s.io", "tcproutes.gateway.networking.k8s.io",
		"tlsroutes.gateway.networking.k8s.io", "udproutes.gateway.networking.k8s.io",
	},
	"admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy":        {"safe-upgrades.gateway.networking.k8s.io"},
	"admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": {"safe-upgrades.gateway.networking.k8s.io"},
}

// checkObjects decodes text as ConfigGroup does and reports every expected
// object that is missing or duplicated and every unexpected one, by kind and name.
func checkObjects(text string, want map[string][]string) error {
	objs, err := upstream.Decode(text)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	got := map[string][]string{}
	for _, o := range objs {
		k := o.GetAPIVersion() + "/" + o.GetKind()
		got[k] = append(got[k], o.GetName())
	}
	var problems []string
	for kind, names := range want {
		for _, n := range names {
			switch c := slices.Index(got[kind], n); {
			case c < 0:
				problems = append(problems, fmt.Sprintf("%s %s is missing (a document separator `---` lost?)", kind, n))
			case slices.Index(got[kind][c+1:], n) >= 0:
				problems = append(problems, fmt.Sprintf("%s %s appears twice", kind, n))
			}
		}
	}
	for kind, names := range got {
		for _, n := range names {
			if !slices.Contains(want[kind], n) {
				problems = append(problems, fmt.Sprintf("%s %s is not expected", kind, n))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%d objects decoded: %s", len(objs), strings.Join(problems, "; "))
	}
	return nil
}

func readManifest(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(gatewayAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGatewayAPIManifestDecodesToEveryUpstreamObject(t *testing.T) {
	if err := checkObjects(readManifest(t), gatewayAPIObjects); err != nil {
		t.Fatalf("%s: %v", gatewayAPIFile, err)
	}
}

func TestGatewayAPIManifestMatchesRecordedChecksum(t *testing.T) {
	notice, err := os.ReadFile("NOTICE.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("sha256 `([0-9a-f]{64})`").FindSubmatch(notice)
	if m == nil {
		t.Fatal("NOTICE.md records no sha256")
	}
	sum := sha256.Sum256([]byte(readManifest(t)))
	if got := hex.EncodeToString(sum[:]); got != string(m[1]) {
		t.Fatalf("%s has sha256 %s, NOTICE.md records %s: the file must stay byte for byte the upstream bundle (see NOTICE.md to regenerate)", gatewayAPIFile, got, m[1])
	}
}

// The defect this check exists for: without the separator the decoder
// merges the policy into the binding's document and only the binding remains.
func TestMissingSeparatorIsReportedWithTheLostObject(t *testing.T) {
	text := readManifest(t)
	i := strings.LastIndex(text, "---\n\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding")
	if i < 0 {
		t.Fatal("no separator before the ValidatingAdmissionPolicyBinding")
	}
	planted := text[:i] + text[i+len("---\n"):]
	err := checkObjects(planted, gatewayAPIObjects)
	if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy safe-upgrades.gateway.networking.k8s.io is missing") {
		t.Fatalf("planted missing `---`: got %v, want the policy reported missing", err)
	}
}
