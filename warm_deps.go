//go:build warm

package main

import (
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	_ "github.com/aws/aws-sdk-go-v2/service/eks"
	_ "github.com/aws/aws-sdk-go-v2/service/sfn"
	_ "github.com/aws/aws-sdk-go-v2/service/sns"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codebuild"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codecommit"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codepipeline"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sfn"
	_ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	_ "github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	_ "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/dynamic"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
	_ "sigs.k8s.io/gateway-api/apis/v1"
	_ "sigs.k8s.io/yaml"
	_ "gonum.org/v1/gonum/stat"
)

func main() {}
