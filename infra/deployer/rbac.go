package deployer

import (
	"fmt"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DeployerRules is what the engine may do in the application namespace.
var DeployerRules = []Rule{
	{Groups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets"}, Verbs: manage},
	{Groups: []string{""}, Resources: []string{"services", "configmaps"}, Verbs: manage},
	{Groups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get", "list"}},
	// delete: a stateful roll back replaces pods stuck on the bad revision.
	{Groups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}},
	{Groups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{Groups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: manage},
	{Groups: []string{"appmesh.k8s.aws"}, Resources: []string{"virtualnodes", "virtualrouters", "virtualservices"}, Verbs: manage},
	{Groups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes"}, Verbs: manage},
	{Groups: []string{"application-networking.k8s.aws"}, Resources: []string{"targetgrouppolicies"}, Verbs: manage},
	// Rollout hooks of kind job.
	{Groups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: manage},
}

var manage = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// Rule is one RBAC rule.
type Rule struct {
	Groups, Resources, Verbs []string
}

// rbac binds the canary-deployers group, which the engine's access entries
// map its roles to, to a Role in the application namespace only.
func (d *Deployer) rbac(ctx *pulumi.Context, name string, args *DeployerArgs) error {
	var rules rbacv1.PolicyRuleArray
	for _, r := range DeployerRules {
		rules = append(rules, rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.ToStringArray(r.Groups),
			Resources: pulumi.ToStringArray(r.Resources),
			Verbs:     pulumi.ToStringArray(r.Verbs),
		})
	}
	inApp := []pulumi.ResourceOption{pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{args.NamespaceResource})}
	role, err := rbacv1.NewRole(ctx, name+"-k8s-role", &rbacv1.RoleArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(DeployersGroup), Namespace: pulumi.String(args.Namespace)},
		Rules:    rules,
	}, inApp...)
	if err != nil {
		return fmt.Errorf("kubernetes role: %w", err)
	}
	if _, err := rbacv1.NewRoleBinding(ctx, name+"-k8s-role-binding", &rbacv1.RoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(DeployersGroup), Namespace: pulumi.String(args.Namespace)},
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem(),
		},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{
			Kind: pulumi.String("Group"), Name: pulumi.String(DeployersGroup), ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
		}},
	}, inApp...); err != nil {
		return fmt.Errorf("kubernetes role binding: %w", err)
	}
	return nil
}
