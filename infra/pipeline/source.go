package pipeline

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudformation"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codecommit"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type artifactBucket struct {
	bucket *s3.BucketV2
}

// newArtifactBucket is the pipeline's private, encrypted store for source
// and build artifacts (and the seed archive). force_destroy lets an
// unattended destroy remove it with its objects.
func newArtifactBucket(ctx *pulumi.Context, name string, tags pulumi.StringMap, parent pulumi.Resource) (*artifactBucket, error) {
	bucket, err := s3.NewBucketV2(ctx, name+"-artifacts", &s3.BucketV2Args{
		ForceDestroy: pulumi.Bool(true),
		Tags:         tags,
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("artifact bucket: %w", err)
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-artifacts-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
		}},
	}, pulumi.Parent(parent)); err != nil {
		return nil, fmt.Errorf("artifact bucket encryption: %w", err)
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name+"-artifacts-private", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, pulumi.Parent(parent)); err != nil {
		return nil, fmt.Errorf("artifact bucket public access block: %w", err)
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-artifacts-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, pulumi.Parent(parent)); err != nil {
		return nil, fmt.Errorf("artifact bucket ownership: %w", err)
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-artifacts-expiry", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("expire-pipeline-artifacts"),
			Status: pulumi.String("Enabled"),
			// The seed archive is read once, when the repository is created.
			Filter:     &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			Expiration: &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(31)},
		}},
	}, pulumi.Parent(parent)); err != nil {
		return nil, fmt.Errorf("artifact bucket expiry: %w", err)
	}
	tlsOnly := pulumi.All(bucket.Arn).ApplyT(func(v []any) (string, error) {
		arn := v[0].(string)
		b, err := json.Marshal(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Sid": "DenyPlainHTTP", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
				"Resource":  []string{arn, arn + "/*"},
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}},
		})
		return string(b), err
	}).(pulumi.StringOutput)
	if _, err := s3.NewBucketPolicy(ctx, name+"-artifacts-tls-only", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: tlsOnly,
	}, pulumi.Parent(parent)); err != nil {
		return nil, fmt.Errorf("artifact bucket policy: %w", err)
	}
	return &artifactBucket{bucket: bucket}, nil
}

type sourceRepository struct {
	name, arn, cloneURL pulumi.StringOutput
}

// newSourceRepository creates the CodeCommit repository. With a seed archive
// it is an AWS::CodeCommit::Repository in a CloudFormation stack, because only
// CloudFormation can create a repository together with its first commit (Code.S3 +
// BranchName): no git client or credentials are needed where Pulumi runs,
// and the commit exists before the pipeline's first run. CloudFormation reads
// Code only at creation, so later changes to the sample never overwrite the
// team's history; destroying the stack deletes the repository.
func newSourceRepository(ctx *pulumi.Context, name string, args *MicroservicePipelineArgs, bucket *artifactBucket, parent pulumi.Resource) (*sourceRepository, error) {
	description := "Source of the " + args.Microservice + " microservice"
	if args.SeedArchive == "" {
		repo, err := codecommit.NewRepository(ctx, name+"-source", &codecommit.RepositoryArgs{
			RepositoryName: pulumi.String(args.Microservice),
			Description:    pulumi.String(description),
			Tags:           args.Tags,
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("source repository: %w", err)
		}
		return &sourceRepository{name: repo.RepositoryName, arn: repo.Arn, cloneURL: repo.CloneUrlHttp}, nil
	}

	key := "seed/" + args.Microservice + ".zip"
	seed, err := s3.NewBucketObjectv2(ctx, name+"-seed", &s3.BucketObjectv2Args{
		Bucket: bucket.bucket.ID(),
		Key:    pulumi.String(key),
		Source: pulumi.NewFileAsset(args.SeedArchive),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("seed archive: %w", err)
	}
	template := bucket.bucket.Bucket.ApplyT(func(b string) (string, error) {
		return repositoryTemplate(args.Microservice, description, args.Branch, b, key)
	}).(pulumi.StringOutput)
	stack, err := cloudformation.NewStack(ctx, name+"-source", &cloudformation.StackArgs{
		Name:         pulumi.String(args.Prefix + "-" + args.Microservice + "-source"),
		TemplateBody: template,
		OnFailure:    pulumi.String("DELETE"),
		Tags:         args.Tags,
	}, pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{seed}))
	if err != nil {
		return nil, fmt.Errorf("seeded source repository: %w", err)
	}
	output := func(k string) pulumi.StringOutput {
		return stack.Outputs.ApplyT(func(o map[string]string) (string, error) {
			v := o[k]
			if v == "" {
				return "", fmt.Errorf("stack of %s has no output %s", args.Microservice, k)
			}
			return v, nil
		}).(pulumi.StringOutput)
	}
	return &sourceRepository{name: output("Name"), arn: output("Arn"), cloneURL: output("CloneUrlHttp")}, nil
}

// repositoryTemplate is the CloudFormation template of a seeded repository.
func repositoryTemplate(repository, description, branch, bucket, key string) (string, error) {
	b, err := json.Marshal(map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              description,
		"Resources": map[string]any{
			"Repository": map[string]any{
				"Type": "AWS::CodeCommit::Repository",
				"Properties": map[string]any{
					"RepositoryName":        repository,
					"RepositoryDescription": description,
					"Code": map[string]any{
						"BranchName": branch,
						"S3":         map[string]any{"Bucket": bucket, "Key": key},
					},
				},
			},
		},
		"Outputs": map[string]any{
			"Name":         map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"Repository", "Name"}}},
			"Arn":          map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"Repository", "Arn"}}},
			"CloneUrlHttp": map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"Repository", "CloneUrlHttp"}}},
		},
	})
	return string(b), err
}
