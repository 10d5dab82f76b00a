// Package policy checks the resources a program registers against the
// platform's guard rails: least-privilege IAM, no cluster-admin for the
// deployer, encrypted private buckets, scanned images, supported Lambda
// runtimes and bounded log retention. It works on plain recorded inputs, so
// the same rules run in unit tests and in the offline resource graph.
package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Resource is one registered resource as the program declared it.
type Resource struct {
	URN    string
	Type   string // e.g. "aws:iam/role:Role"
	Name   string // logical name
	Parent string // parent URN, empty for the stack's direct children
	Custom bool
	ID     string
	Inputs map[string]any // JSON-like values: string, bool, float64, []any, map[string]any
	// Dependencies are the URNs the resource was declared to depend on
	// (DependsOn and the resources its inputs came from).
	Dependencies []string
	// Provider is the "<urn>::<id>" reference of an explicit provider.
	Provider string
}

// Violation is one broken rule.
type Violation struct {
	Rule    string
	Type    string
	Name    string
	Message string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s %q: %s", v.Rule, v.Type, v.Name, v.Message)
}

// Rule names.
const (
	RuleWildcardIAM      = "iam-no-wildcard-admin"
	RuleFullAccess       = "iam-no-full-access-managed-policy"
	RuleClusterAdmin     = "k8s-no-cluster-admin"
	RuleBucketEncryption = "s3-encrypted"
	RuleBucketPublic     = "s3-public-access-blocked"
	RuleECRScan          = "ecr-scan-on-push"
	RuleLambdaRuntime    = "lambda-runtime-provided-al2023"
	RuleLogRetention     = "logs-retention-set"
)

// Resource type tokens the rules look at.
const (
	typeRole                = "aws:iam/role:Role"
	typeRolePolicy          = "aws:iam/rolePolicy:RolePolicy"
	typePolicy              = "aws:iam/policy:Policy"
	typeRolePolicyAttach    = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	typeAccessEntry         = "aws:eks/accessEntry:AccessEntry"
	typeAccessPolicyAssoc   = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
	typeClusterRoleBinding  = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
	typeRoleBinding         = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	typeBucketV2            = "aws:s3/bucketV2:BucketV2"
	typeBucket              = "aws:s3/bucket:Bucket"
	typeBucketSSE           = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	typeBucketPublicBlock   = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	typeECRRepository       = "aws:ecr/repository:Repository"
	typeLambdaFunction      = "aws:lambda/function:Function"
	typeLogGroup            = "aws:cloudwatch/logGroup:LogGroup"
	typeEKSClusterComponent = "eks:index:Cluster"
)

// LambdaRuntime is the only runtime the platform deploys: provided.al2 is
// deprecated, provided.al2023 is supported until 2029.
const LambdaRuntime = "provided.al2023"

// Check runs every rule over the resources and returns the violations in a
// stable order.
func Check(resources []Resource) []Violation {
	var out []Violation
	for _, r := range resources {
		out = append(out, checkIAM(r)...)
		out = append(out, checkClusterAdmin(r)...)
		out = append(out, checkECR(r)...)
		out = append(out, checkLambda(r)...)
		out = append(out, checkLogGroup(r)...)
	}
	out = append(out, checkBuckets(resources)...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func violation(rule string, r Resource, format string, args ...any) Violation {
	return Violation{Rule: rule, Type: r.Type, Name: r.Name, Message: fmt.Sprintf(format, args...)}
}

func checkIAM(r Resource) []Violation {
	var docs []string
	switch r.Type {
	case typeRolePolicy, typePolicy:
		docs = append(docs, str(r.Inputs["policy"]))
	case typeRole:
		for _, p := range list(r.Inputs["inlinePolicies"]) {
			docs = append(docs, str(obj(p)["policy"]))
		}
	}
	var out []Violation
	for _, d := range docs {
		if d == "" {
			continue
		}
		bad, err := adminStatements(d)
		if err != nil {
			out = append(out, violation(RuleWildcardIAM, r, "policy document is not valid JSON: %v", err))
			continue
		}
		for _, sid := range bad {
			out = append(out, violation(RuleWildcardIAM, r, "statement %s allows Action \"*\" on Resource \"*\"", sid))
		}
	}
	var arns []string
	switch r.Type {
	case typeRolePolicyAttach:
		arns = append(arns, str(r.Inputs["policyArn"]))
	case typeRole:
		for _, a := range list(r.Inputs["managedPolicyArns"]) {
			arns = append(arns, str(a))
		}
	}
	for _, arn := range arns {
		if IsBroadManagedPolicy(arn) {
			out = append(out, violation(RuleFullAccess, r, "attaches the broad managed policy %s", arn))
		}
	}
	return out
}

// IsBroadManagedPolicy reports whether arn names an AWS managed policy that
// grants a whole service or account: *FullAccess, AdministratorAccess,
// PowerUserAccess.
func IsBroadManagedPolicy(arn string) bool {
	name := arn[strings.LastIndex(arn, "/")+1:]
	return strings.HasSuffix(name, "FullAccess") || name == "AdministratorAccess" || name == "PowerUserAccess"
}

// adminStatements returns the Sids (or positions) of Allow statements whose
// Action and Resource both include "*".
func adminStatements(doc string) ([]string, error) {
	var parsed struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
		return nil, err
	}
	var statements []map[string]any
	if len(parsed.Statement) > 0 && parsed.Statement[0] == '{' {
		var one map[string]any
		if err := json.Unmarshal(parsed.Statement, &one); err != nil {
			return nil, err
		}
		statements = append(statements, one)
	} else if len(parsed.Statement) > 0 {
		if err := json.Unmarshal(parsed.Statement, &statements); err != nil {
			return nil, err
		}
	}
	var bad []string
	for i, s := range statements {
		if str(s["Effect"]) != "Allow" {
			continue
		}
		if slices.Contains(strings1(s["Action"]), "*") && slices.Contains(strings1(s["Resource"]), "*") {
			sid := str(s["Sid"])
			if sid == "" {
				sid = fmt.Sprintf("#%d", i)
			}
			bad = append(bad, sid)
		}
	}
	return bad, nil
}

// Deployer rights are namespaced: no cluster-wide EKS access policy, no
// ClusterRoleBinding, no system:masters, no binding to cluster-admin.
func checkClusterAdmin(r Resource) []Violation {
	switch r.Type {
	case typeAccessPolicyAssoc:
		scope := str(obj(r.Inputs["accessScope"])["type"])
		return []Violation{violation(RuleClusterAdmin, r, "associates EKS access policy %s (scope %s); grant namespaced RBAC instead", str(r.Inputs["policyArn"]), scope)}
	case typeAccessEntry:
		if slices.Contains(strings1(r.Inputs["kubernetesGroups"]), "system:masters") {
			return []Violation{violation(RuleClusterAdmin, r, "maps the principal to system:masters")}
		}
	case typeClusterRoleBinding:
		return []Violation{violation(RuleClusterAdmin, r, "creates a ClusterRoleBinding; bind a namespaced Role instead")}
	case typeRoleBinding:
		if str(obj(r.Inputs["roleRef"])["name"]) == "cluster-admin" {
			return []Violation{violation(RuleClusterAdmin, r, "binds cluster-admin")}
		}
	case typeEKSClusterComponent:
		for name, e := range obj(r.Inputs["accessEntries"]) {
			if len(obj(obj(e)["accessPolicies"])) > 0 {
				return []Violation{violation(RuleClusterAdmin, r, "access entry %s carries EKS access policies", name)}
			}
		}
	}
	return nil
}

func checkECR(r Resource) []Violation {
	if r.Type != typeECRRepository {
		return nil
	}
	if b, _ := obj(r.Inputs["imageScanningConfiguration"])["scanOnPush"].(bool); !b {
		return []Violation{violation(RuleECRScan, r, "imageScanningConfiguration.scanOnPush is not true")}
	}
	return nil
}

func checkLambda(r Resource) []Violation {
	if r.Type != typeLambdaFunction {
		return nil
	}
	if rt := str(r.Inputs["runtime"]); rt != LambdaRuntime {
		return []Violation{violation(RuleLambdaRuntime, r, "runtime %q, want %q", rt, LambdaRuntime)}
	}
	return nil
}

func checkLogGroup(r Resource) []Violation {
	if r.Type != typeLogGroup {
		return nil
	}
	if days, _ := r.Inputs["retentionInDays"].(float64); days <= 0 {
		return []Violation{violation(RuleLogRetention, r, "retentionInDays is not set: the group would keep logs forever")}
	}
	return nil
}

// checkBuckets pairs each bucket with its encryption configuration and
// public access block, matched on the bucket's ID.
func checkBuckets(resources []Resource) []Violation {
	encrypted := map[string]bool{}
	blocked := map[string]bool{}
	for _, r := range resources {
		switch r.Type {
		case typeBucketSSE:
			for _, rule := range list(r.Inputs["rules"]) {
				alg := str(obj(obj(rule)["applyServerSideEncryptionByDefault"])["sseAlgorithm"])
				if alg == "AES256" || strings.HasPrefix(alg, "aws:kms") {
					encrypted[str(r.Inputs["bucket"])] = true
				}
			}
		case typeBucketPublicBlock:
			all := true
			for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				if b, _ := r.Inputs[k].(bool); !b {
					all = false
				}
			}
			if all {
				blocked[str(r.Inputs["bucket"])] = true
			}
		}
	}
	var out []Violation
	for _, r := range resources {
		if r.Type != typeBucketV2 && r.Type != typeBucket {
			continue
		}
		if !encrypted[r.ID] {
			out = append(out, violation(RuleBucketEncryption, r, "no server-side encryption configuration (AES256 or aws:kms) for bucket %q", r.ID))
		}
		if !blocked[r.ID] {
			out = append(out, violation(RuleBucketPublic, r, "no public access block with all four settings true for bucket %q", r.ID))
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// strings1 reads an IAM "string or list of strings" field.
func strings1(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, str(e))
		}
		return out
	}
	return nil
}
