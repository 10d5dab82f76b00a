package policy

import (
	"strings"
	"testing"
)

func rules(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule+"/"+v.Name)
	}
	return out
}

func TestCheck(t *testing.T) {
	adminDoc := `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}`
	adminInList := `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","*"],"Resource":["arn:x","*"]}]}`
	single := `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	scoped := `{"Statement":[{"Effect":"Allow","Action":"eks:DescribeCluster","Resource":"arn:aws:eks:us-west-2:1:cluster/c"},` +
		`{"Effect":"Allow","Action":"cloudwatch:GetMetricData","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	serviceWildcard := `{"Statement":[{"Effect":"Allow","Action":"vpc-lattice:*","Resource":"*"}]}`

	cases := []struct {
		name string
		in   []Resource
		want []string
	}{
		{"scoped statements pass", []Resource{{Type: typeRolePolicy, Name: "ok", Inputs: map[string]any{"policy": scoped}}}, nil},
		{"a service wildcard is not admin", []Resource{{Type: typeRolePolicy, Name: "ok", Inputs: map[string]any{"policy": serviceWildcard}}}, nil},
		{"admin statement in a role policy", []Resource{{Type: typeRolePolicy, Name: "rp", Inputs: map[string]any{"policy": adminDoc}}}, []string{RuleWildcardIAM + "/rp"}},
		{"admin statement hidden in lists", []Resource{{Type: typePolicy, Name: "p", Inputs: map[string]any{"policy": adminInList}}}, []string{RuleWildcardIAM + "/p"}},
		{"single statement object", []Resource{{Type: typePolicy, Name: "p", Inputs: map[string]any{"policy": single}}}, []string{RuleWildcardIAM + "/p"}},
		{"inline policy of a role", []Resource{{Type: typeRole, Name: "r", Inputs: map[string]any{"inlinePolicies": []any{map[string]any{"policy": adminDoc}}}}}, []string{RuleWildcardIAM + "/r"}},
		{"unparsable document", []Resource{{Type: typeRolePolicy, Name: "bad", Inputs: map[string]any{"policy": "{"}}}, []string{RuleWildcardIAM + "/bad"}},
		{"FullAccess attachment", []Resource{{Type: typeRolePolicyAttach, Name: "a", Inputs: map[string]any{"policyArn": "arn:aws:iam::aws:policy/AWSAppMeshFullAccess"}}}, []string{RuleFullAccess + "/a"}},
		{"AdministratorAccess in managedPolicyArns", []Resource{{Type: typeRole, Name: "r", Inputs: map[string]any{"managedPolicyArns": []any{"arn:aws:iam::aws:policy/AdministratorAccess"}}}}, []string{RuleFullAccess + "/r"}},
		{"read-only managed policy passes", []Resource{{Type: typeRolePolicyAttach, Name: "a", Inputs: map[string]any{"policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}}}, nil},
		{"cluster admin access policy", []Resource{{Type: typeAccessPolicyAssoc, Name: "ap", Inputs: map[string]any{"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}}}, []string{RuleClusterAdmin + "/ap"}},
		{"system:masters group", []Resource{{Type: typeAccessEntry, Name: "ae", Inputs: map[string]any{"kubernetesGroups": []any{"system:masters"}}}}, []string{RuleClusterAdmin + "/ae"}},
		{"namespaced group passes", []Resource{{Type: typeAccessEntry, Name: "ae", Inputs: map[string]any{"kubernetesGroups": []any{"canary-deployers"}}}}, nil},
		{"ClusterRoleBinding", []Resource{{Type: typeClusterRoleBinding, Name: "crb"}}, []string{RuleClusterAdmin + "/crb"}},
		{"RoleBinding to cluster-admin", []Resource{{Type: typeRoleBinding, Name: "rb", Inputs: map[string]any{"roleRef": map[string]any{"name": "cluster-admin"}}}}, []string{RuleClusterAdmin + "/rb"}},
		{"access policies on the eks component", []Resource{{Type: typeEKSClusterComponent, Name: "eks", Inputs: map[string]any{"accessEntries": map[string]any{"x": map[string]any{"accessPolicies": map[string]any{"admin": map[string]any{}}}}}}}, []string{RuleClusterAdmin + "/eks"}},
		{"ECR without scan on push", []Resource{{Type: typeECRRepository, Name: "ecr", Inputs: map[string]any{}}}, []string{RuleECRScan + "/ecr"}},
		{"ECR with scan on push", []Resource{{Type: typeECRRepository, Name: "ecr", Inputs: map[string]any{"imageScanningConfiguration": map[string]any{"scanOnPush": true}}}}, nil},
		{"old Lambda runtime", []Resource{{Type: typeLambdaFunction, Name: "fn", Inputs: map[string]any{"runtime": "provided.al2"}}}, []string{RuleLambdaRuntime + "/fn"}},
		{"al2023 Lambda", []Resource{{Type: typeLambdaFunction, Name: "fn", Inputs: map[string]any{"runtime": "provided.al2023"}}}, nil},
		{"log group without retention", []Resource{{Type: typeLogGroup, Name: "lg", Inputs: map[string]any{}}}, []string{RuleLogRetention + "/lg"}},
		{"log group with retention", []Resource{{Type: typeLogGroup, Name: "lg", Inputs: map[string]any{"retentionInDays": float64(14)}}}, nil},
		{"bare bucket", []Resource{{Type: typeBucketV2, Name: "b", ID: "bucket-1"}}, []string{RuleBucketEncryption + "/b", RuleBucketPublic + "/b"}},
		{"guarded bucket", []Resource{
			{Type: typeBucketV2, Name: "b", ID: "bucket-1"},
			{Type: typeBucketSSE, Name: "sse", Inputs: map[string]any{"bucket": "bucket-1", "rules": []any{map[string]any{"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "aws:kms"}}}}},
			{Type: typeBucketPublicBlock, Name: "pab", Inputs: map[string]any{"bucket": "bucket-1", "blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": true}},
		}, nil},
		{"guards of another bucket do not count", []Resource{
			{Type: typeBucketV2, Name: "b", ID: "bucket-1"},
			{Type: typeBucketSSE, Name: "sse", Inputs: map[string]any{"bucket": "bucket-2", "rules": []any{map[string]any{"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "AES256"}}}}},
			{Type: typeBucketPublicBlock, Name: "pab", Inputs: map[string]any{"bucket": "bucket-1", "blockPublicAcls": true, "blockPublicPolicy": false, "ignorePublicAcls": true, "restrictPublicBuckets": true}},
		}, []string{RuleBucketEncryption + "/b", RuleBucketPublic + "/b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rules(Check(tc.in))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("violations = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestViolationNamesTheStatement(t *testing.T) {
	vs := Check([]Resource{{Type: typeRolePolicy, Name: "rp", Inputs: map[string]any{
		"policy": `{"Statement":[{"Sid":"Everything","Effect":"Allow","Action":"*","Resource":"*"}]}`}}})
	if len(vs) != 1 || !strings.Contains(vs[0].String(), "Everything") || !strings.Contains(vs[0].String(), "rp") {
		t.Fatalf("violation does not name the statement and resource: %v", vs)
	}
}
