package awsrules

// Binding maps a Pulumi AWS resource type to the input shape of the API call
// that creates it. Input keys match model members case-insensitively;
// Aliases name the ones the provider spells differently.
type Binding struct {
	Service string // folder under models/apis in aws-sdk-go
	Shape   string
	// Aliases map a Pulumi input key, or the dotted path of a nested one,
	// to the model member it sets.
	Aliases map[string]string
	// AutoName is the input Pulumi fills with "<logical name>-<7 random
	// characters>" when the program leaves it unset.
	AutoName string
}

// Bindings cover every AWS resource type the environment program registers
// except EC2 and S3 (their models carry no constraints on what the program
// sets: ids, CIDR blocks and bucket names).
var Bindings = map[string]Binding{
	"aws:lambda/function:Function": {Service: "lambda", Shape: "CreateFunctionRequest",
		Aliases: map[string]string{"name": "FunctionName", "role": "Role"}, AutoName: "name"},
	"aws:lambda/permission:Permission": {Service: "lambda", Shape: "AddPermissionRequest",
		Aliases: map[string]string{"function": "FunctionName"}},
	"aws:cloudwatch/eventRule:EventRule": {Service: "events", Shape: "PutRuleRequest", AutoName: "name"},
	"aws:cloudwatch/eventTarget:EventTarget": {Service: "events", Shape: "Target",
		Aliases: map[string]string{"targetId": "Id"}},
	"aws:cloudformation/stack:Stack": {Service: "cloudformation", Shape: "CreateStackInput",
		Aliases: map[string]string{"name": "StackName"}, AutoName: "name"},
	"aws:codebuild/project:Project": {Service: "codebuild", Shape: "CreateProjectInput",
		Aliases: map[string]string{"buildTimeout": "timeoutInMinutes"}, AutoName: "name"},
	"aws:codepipeline/pipeline:Pipeline": {Service: "codepipeline", Shape: "PipelineDeclaration", AutoName: "name"},
	"aws:iam/role:Role": {Service: "iam", Shape: "CreateRoleRequest",
		Aliases: map[string]string{"name": "RoleName", "assumeRolePolicy": "AssumeRolePolicyDocument"}, AutoName: "name"},
	"aws:iam/rolePolicy:RolePolicy": {Service: "iam", Shape: "PutRolePolicyRequest",
		Aliases: map[string]string{"name": "PolicyName", "policy": "PolicyDocument", "role": "RoleName"}, AutoName: "name"},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {Service: "iam", Shape: "AttachRolePolicyRequest",
		Aliases: map[string]string{"role": "RoleName"}},
	"aws:cloudwatch/logGroup:LogGroup": {Service: "logs", Shape: "CreateLogGroupRequest",
		Aliases: map[string]string{"name": "logGroupName"}, AutoName: "name"},
	"aws:cloudwatch/logMetricFilter:LogMetricFilter": {Service: "logs", Shape: "PutMetricFilterRequest",
		Aliases: map[string]string{"name": "filterName", "pattern": "filterPattern", "metricTransformation": "metricTransformations"}},
	"aws:sns/topic:Topic": {Service: "sns", Shape: "CreateTopicInput", AutoName: "name"},
	"aws:sns/topicSubscription:TopicSubscription": {Service: "sns", Shape: "SubscribeInput",
		Aliases: map[string]string{"topic": "TopicArn"}},
	"aws:sfn/stateMachine:StateMachine": {Service: "states", Shape: "CreateStateMachineInput", AutoName: "name"},
	"aws:ecr/repository:Repository": {Service: "ecr", Shape: "CreateRepositoryRequest",
		Aliases: map[string]string{"name": "repositoryName", "encryptionConfigurations": "encryptionConfiguration"}, AutoName: "name"},
	"aws:ecr/lifecyclePolicy:LifecyclePolicy": {Service: "ecr", Shape: "PutLifecyclePolicyRequest",
		Aliases: map[string]string{"repository": "repositoryName", "policy": "lifecyclePolicyText"}},
	"aws:eks/addon:Addon": {Service: "eks", Shape: "CreateAddonRequest",
		Aliases: map[string]string{"resolveConflictsOnCreate": "resolveConflicts", "resolveConflictsOnUpdate": "resolveConflicts"}},
	"aws:eks/podIdentityAssociation:PodIdentityAssociation":   {Service: "eks", Shape: "CreatePodIdentityAssociationRequest"},
	"aws:eks/accessEntry:AccessEntry":                         {Service: "eks", Shape: "CreateAccessEntryRequest"},
	"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": {Service: "eks", Shape: "AssociateAccessPolicyRequest"},
	"aws:vpclattice/serviceNetwork:ServiceNetwork":            {Service: "vpc-lattice", Shape: "CreateServiceNetworkRequest", AutoName: "name"},
	"aws:vpclattice/serviceNetworkVpcAssociation:ServiceNetworkVpcAssociation": {Service: "vpc-lattice",
		Shape: "CreateServiceNetworkVpcAssociationRequest"},
	"aws:cloudwatch/dashboard:Dashboard":   {Service: "monitoring", Shape: "PutDashboardInput"},
	"aws:codecommit/repository:Repository": {Service: "codecommit", Shape: "CreateRepositoryInput"},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": {Service: "iam", Shape: "CreateOpenIDConnectProviderRequest",
		Aliases: map[string]string{"clientIdLists": "ClientIDList", "thumbprintLists": "ThumbprintList"}},
	"aws:iam/policy:Policy": {Service: "iam", Shape: "CreatePolicyRequest",
		Aliases: map[string]string{"name": "PolicyName", "policy": "PolicyDocument"}, AutoName: "name"},
	"aws:route53/zone:Zone":     {Service: "route53", Shape: "CreateHostedZoneRequest"},
	"aws:route53/record:Record": {Service: "route53", Shape: "ResourceRecordSet"},
	"aws:lb/loadBalancer:LoadBalancer": {Service: "elasticloadbalancingv2", Shape: "CreateLoadBalancerInput",
		Aliases: map[string]string{"loadBalancerType": "Type"}, AutoName: "name"},
	"aws:lb/targetGroup:TargetGroup": {Service: "elasticloadbalancingv2", Shape: "CreateTargetGroupInput", AutoName: "name"},
	"aws:lb/listener:Listener":       {Service: "elasticloadbalancingv2", Shape: "CreateListenerInput"},
	"aws:eks/cluster:Cluster":        {Service: "eks", Shape: "CreateClusterRequest", AutoName: "name"},
	"aws:amp/workspace:Workspace":    {Service: "amp", Shape: "CreateWorkspaceRequest"},
	"aws:amp/scraper:Scraper": {Service: "amp", Shape: "CreateScraperRequest",
		Aliases: map[string]string{"source.eks": "eksConfiguration", "destination.amp": "ampConfiguration"}},
}
