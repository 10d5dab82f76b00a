// Package enginerbac is what the canary engine may do in the cluster: one
// Role in the application namespace, bound to the group the engine's EKS
// access entries map its IAM roles to (infra/deployer), and never more.
package enginerbac

import (
	"fmt"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Group is the Kubernetes group of the engine's roles.
const Group = "canary-deployers"

// Rules is what the engine may do in the application namespace.
var Rules = []Rule{
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

// Args place the Role.
type Args struct {
	Namespace string
	// NamespaceResource is the namespace object: the Role and its binding
	// go before it on destroy.
	NamespaceResource pulumi.Resource
}

// New binds Group to a Role of Rules in the application namespace only; its
// children are "<name>-k8s-role" and "<name>-k8s-role-binding".
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) error {
	if args == nil || args.Namespace == "" {
		return fmt.Errorf("engine rbac %s: Namespace is required", name)
	}
	var rules rbacv1.PolicyRuleArray
	for _, r := range Rules {
		rules = append(rules, rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.ToStringArray(r.Groups),
			Resources: pulumi.ToStringArray(r.Resources),
			Verbs:     pulumi.ToStringArray(r.Verbs),
		})
	}
	inApp := opts
	if args.NamespaceResource != nil {
		inApp = append(append([]pulumi.ResourceOption{}, opts...), pulumi.DependsOn([]pulumi.Resource{args.NamespaceResource}))
	}
	role, err := rbacv1.NewRole(ctx, name+"-k8s-role", &rbacv1.RoleArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(Group), Namespace: pulumi.String(args.Namespace)},
		Rules:    rules,
	}, inApp...)
	if err != nil {
		return fmt.Errorf("kubernetes role: %w", err)
	}
	if _, err := rbacv1.NewRoleBinding(ctx, name+"-k8s-role-binding", &rbacv1.RoleBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(Group), Namespace: pulumi.String(args.Namespace)},
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: role.Metadata.Name().Elem(),
		},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{
			Kind: pulumi.String("Group"), Name: pulumi.String(Group), ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
		}},
	}, inApp...); err != nil {
		return fmt.Errorf("kubernetes role binding: %w", err)
	}
	return nil
}
