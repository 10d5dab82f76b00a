// Package awsiam renders IAM policy documents whose ARNs are Pulumi outputs,
// without an invoke per document (iam.GetPolicyDocument would cost one call
// per policy on every preview).
package awsiam

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Statement is one Allow statement. Resources may be outputs.
type Statement struct {
	Sid       string
	Actions   []string
	Resources []pulumi.StringInput
	Condition map[string]map[string]any // static conditions only
}

// Any is the resource "*", for the actions that have no resource scoping.
var Any = pulumi.String("*")

type statementJSON struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

type documentJSON struct {
	Version   string          `json:"Version"`
	Statement []statementJSON `json:"Statement"`
}

// Document renders the statements as a policy document once every resource
// ARN is known.
func Document(statements ...Statement) pulumi.StringOutput {
	var inputs []any
	for _, s := range statements {
		for _, r := range s.Resources {
			inputs = append(inputs, r)
		}
	}
	return pulumi.All(inputs...).ApplyT(func(values []any) (string, error) {
		doc := documentJSON{Version: "2012-10-17"}
		i := 0
		for _, s := range statements {
			if len(s.Actions) == 0 || len(s.Resources) == 0 {
				return "", fmt.Errorf("policy statement %q needs at least one action and one resource", s.Sid)
			}
			st := statementJSON{Sid: s.Sid, Effect: "Allow", Action: s.Actions, Condition: s.Condition}
			for range s.Resources {
				st.Resource = append(st.Resource, values[i].(string))
				i++
			}
			doc.Statement = append(doc.Statement, st)
		}
		b, err := json.Marshal(doc)
		return string(b), err
	}).(pulumi.StringOutput)
}

// ServiceTrust lets AWS services assume a role.
func ServiceTrust(services ...string) string {
	return mustJSON(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": services},
			"Action":    []string{"sts:AssumeRole"},
		}},
	})
}

// PodIdentityTrust lets EKS Pod Identity hand the role to a service account
// named by a PodIdentityAssociation.
func PodIdentityTrust() string {
	return mustJSON(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "pods.eks.amazonaws.com"},
			"Action":    []string{"sts:AssumeRole", "sts:TagSession"},
		}},
	})
}

// IRSATrust lets one Kubernetes service account assume the role through the
// cluster's OIDC provider (IAM roles for service accounts). issuer is the
// provider URL without "https://".
func IRSATrust(providerArn, issuer pulumi.StringInput, namespace, serviceAccount string) pulumi.StringOutput {
	return pulumi.All(providerArn, issuer).ApplyT(func(v []any) (string, error) {
		arn, iss := v[0].(string), v[1].(string)
		if arn == "" || iss == "" {
			return "", fmt.Errorf("IRSA trust for %s/%s: the cluster's OIDC provider is unknown", namespace, serviceAccount)
		}
		return mustJSON(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"Federated": arn},
				"Action":    []string{"sts:AssumeRoleWithWebIdentity"},
				"Condition": map[string]any{"StringEquals": map[string]any{
					iss + ":sub": "system:serviceaccount:" + namespace + ":" + serviceAccount,
					iss + ":aud": "sts.amazonaws.com",
				}},
			}},
		}), nil
	}).(pulumi.StringOutput)
}

// mustJSON renders the static trust documents above; maps of strings and
// string slices always marshal.
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
