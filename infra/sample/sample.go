// Package sample creates what the Yelb sample application needs from the
// environment and nothing else: the program creates it only with sampleMode,
// so a platform for a team's own services carries no Yelb objects.
package sample

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DBCredentialsSecret holds the sample database's credentials (keys
// username, password, database); the yelb-db and yelb-appserver templates
// read it.
const DBCredentialsSecret = "yelb-db-credentials"

// SampleArgs configures the sample's objects.
type SampleArgs struct {
	// Namespace is the application namespace; the Secret depends on it.
	Namespace *corev1.Namespace
	// DBPassword for the sample database; nil generates one at creation and
	// keeps it.
	DBPassword pulumi.StringInput
	// FormerParent is the component that created the Secret in earlier
	// versions of the program (the traffic layer, as "<its name>-db-credentials"):
	// an alias keeps that Secret, and the password the database was
	// initialised with, instead of replacing it.
	FormerParent pulumi.Resource
	FormerName   string
}

// Sample is the sample application's environment.
type Sample struct {
	pulumi.ResourceState
}

// NewSample creates the database credentials Secret.
func NewSample(ctx *pulumi.Context, name string, args *SampleArgs, opts ...pulumi.ResourceOption) (*Sample, error) {
	if args == nil || args.Namespace == nil {
		return nil, fmt.Errorf("sample %s: Namespace is required", name)
	}
	s := &Sample{}
	if err := ctx.RegisterComponentResource("canary:infra:Sample", name, s, opts...); err != nil {
		return nil, err
	}
	password := args.DBPassword
	secretOpts := []pulumi.ResourceOption{pulumi.Parent(s)}
	if args.FormerParent != nil && args.FormerName != "" {
		secretOpts = append(secretOpts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(args.FormerName), Parent: args.FormerParent}}))
	}
	if password == nil {
		generated, err := randomPassword()
		if err != nil {
			return nil, fmt.Errorf("sample %s: database password: %w", name, err)
		}
		password = pulumi.String(generated)
		// A new value is drawn on every run; only the first one is used.
		// The provider folds stringData into data, so both are ignored:
		// with stringData alone, every run replaced the Secret.
		secretOpts = append(secretOpts, pulumi.IgnoreChanges([]string{"stringData", "data"}))
	}
	if _, err := corev1.NewSecret(ctx, name+"-db-credentials", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(DBCredentialsSecret),
			Namespace: args.Namespace.Metadata.Name(),
		},
		Type: pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			"username": pulumi.String("postgres"),
			"password": pulumi.ToSecret(password).(pulumi.StringOutput),
			"database": pulumi.String("yelbdatabase"),
		},
	}, secretOpts...); err != nil {
		return nil, fmt.Errorf("sample %s: database credentials: %w", name, err)
	}
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{}); err != nil {
		return nil, err
	}
	return s, nil
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
