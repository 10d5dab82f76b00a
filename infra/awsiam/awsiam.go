// Package awsiam renders IAM policy documents whose ARNs are Pulumi outputs,
// without an invoke per document (iam.GetPolicyDocument would cost one call
// per policy on every preview).
package awsiam

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
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

// Environment is the partition, region and account the stack deploys to,
// as the AWS provider reports them.
type Environment struct {
	Partition, Region, Account pulumi.StringOutput
}

// LookupEnvironment asks the AWS provider for the stack's partition, region
// and account (three invokes, answered without touching any resource).
func LookupEnvironment(ctx *pulumi.Context, opts ...pulumi.InvokeOption) Environment {
	return Environment{
		Partition: aws.GetPartitionOutput(ctx, aws.GetPartitionOutputArgs{}, opts...).Partition(),
		Region:    aws.GetRegionOutput(ctx, aws.GetRegionOutputArgs{}, opts...).Name(),
		Account:   aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, opts...).AccountId(),
	}
}

// Arn is arn:<partition>:<service>:<region>:<account>:<resource> in the
// stack's environment; resource may hold IAM wildcards ("*", "?").
func (e Environment) Arn(service, resource string) pulumi.StringOutput {
	return pulumi.All(e.Partition, e.Region, e.Account).ApplyT(func(v []any) (string, error) {
		partition, region, account := v[0].(string), v[1].(string), v[2].(string)
		if partition == "" || region == "" || account == "" {
			return "", fmt.Errorf("%s ARN of %q: partition %q, region %q or account %q is unknown", service, resource, partition, region, account)
		}
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource), nil
	}).(pulumi.StringOutput)
}

// AccountSource admits a service acting for any resource of the stack's
// account.
func (e Environment) AccountSource() Source {
	return Source{Account: e.Account}
}

// ResourceSource admits a service acting for the stack's account and for
// the resources Arn(service, resource) matches. Callers name the resource
// from its known physical name: a role cannot take the ARN output of a
// resource that needs the role first.
func (e Environment) ResourceSource(service, resource string) Source {
	return Source{Account: e.Account, Arn: e.Arn(service, resource)}
}

// Source is on whose behalf a service may assume a role, the guard against
// the cross-service confused deputy: the service must act for Account
// (aws:SourceAccount) and, when Arn is set, for a resource matching it
// (aws:SourceArn with ArnLike, so "*" and "?" are wildcards).
type Source struct {
	Account pulumi.StringInput // required
	Arn     pulumi.StringInput // optional: nil conditions on the account only
}

// ServiceTrust lets one AWS service principal assume a role, only on behalf
// of source.
func ServiceTrust(service string, source Source) pulumi.StringOutput {
	account, arn := source.Account, source.Arn
	if account == nil {
		account = pulumi.String("")
	}
	if arn == nil {
		arn = pulumi.String("")
	}
	return pulumi.All(account, arn).ApplyT(func(v []any) (string, error) {
		account, arn := v[0].(string), v[1].(string)
		if account == "" {
			return "", fmt.Errorf("trust of %s: the source account is unknown", service)
		}
		cond := map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}}
		if source.Arn != nil {
			if !strings.HasPrefix(arn, "arn:") {
				return "", fmt.Errorf("trust of %s: source ARN %q is not an ARN", service, arn)
			}
			cond["ArnLike"] = map[string]any{"aws:SourceArn": arn}
		}
		return mustJSON(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": service},
				"Action":    []string{"sts:AssumeRole"},
				"Condition": cond,
			}},
		}), nil
	}).(pulumi.StringOutput)
}

// EC2InstanceTrust lets EC2 hand the role to instances through an instance
// profile (the EKS nodes). It has no source condition: AWS documents neither
// aws:SourceAccount nor aws:SourceArn for the role EC2 assumes for an
// instance profile, and a condition on a key the request lacks denies, so
// the nodes would get no credentials and never join the cluster. Who may
// pass the role (iam:PassRole) bounds it instead.
func EC2InstanceTrust() string {
	return mustJSON(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "ec2.amazonaws.com"},
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

// mustJSON renders the trust documents above; maps of strings and string
// slices always marshal.
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// RoleArgs are a role that one inline policy grants everything, as the
// controllers' roles are.
type RoleArgs struct {
	Trust       pulumi.StringInput
	Description string
	Policy      pulumi.StringInput
	Tags        pulumi.StringMap
}

// NewRole creates the role and its inline policy, both named name, under
// opts (a component's pulumi.Parent); what runs as the role depends on the
// policy, which exists only once the role does.
func NewRole(ctx *pulumi.Context, name string, args RoleArgs, opts ...pulumi.ResourceOption) (*iam.Role, *iam.RolePolicy, error) {
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		AssumeRolePolicy: args.Trust,
		Description:      pulumi.String(args.Description),
		Tags:             args.Tags,
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("role %s: %w", name, err)
	}
	policy, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: args.Policy,
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("policy of role %s: %w", name, err)
	}
	return role, policy, nil
}
