// Package offline evaluates the Pulumi program without a cloud: Pulumi's mock
// resource monitor records every resource the program registers, with its
// inputs, and answers with plausible outputs (ARNs, URLs, IDs, a kubeconfig)
// so that output-dependent code runs as it would in a deployment. Tests and
// the resource graph command share it.
package offline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/eks-canary/platform/infra/policy"
)

// Account is the AWS account the mocks pretend to deploy to.
const Account = "123456789012"

// HostedZone is an existing Route 53 zone the mocks know.
type HostedZone struct {
	Name    string
	Private bool
}

// HostedZones are the existing zones a hostedZoneId may name offline; any
// other ID is answered as AWS would, "no matching zone".
var HostedZones = map[string]HostedZone{
	"Z0EXAMPLEPRIVATE": {Name: "corp.internal", Private: true},
	"Z0EXAMPLEPUBLIC":  {Name: "example.com", Private: false},
}

// Result is what a run registered.
type Result struct {
	// Resources in registration order; Simulated ones are stand-ins for the
	// children of remote components (their real children are created by the
	// component's provider and are not visible here).
	Resources []policy.Resource
	Simulated map[string]bool // by URN
	Invokes   []string        // invoke tokens, in call order
	// Outputs are what the mocks answered for each resource, by URN, as
	// plain values (resource references become URNs).
	Outputs map[string]map[string]any
}

// Owned returns the resources the program itself registers.
func (r *Result) Owned() []policy.Resource {
	var out []policy.Resource
	for _, res := range r.Resources {
		if !r.Simulated[res.URN] {
			out = append(out, res)
		}
	}
	return out
}

// ByType returns the owned resources of one type token.
func (r *Result) ByType(typ string) []policy.Resource {
	var out []policy.Resource
	for _, res := range r.Owned() {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

// Find returns the owned resource with this type and logical name.
func (r *Result) Find(typ, name string) (policy.Resource, bool) {
	for _, res := range r.Owned() {
		if res.Type == typ && res.Name == name {
			return res, true
		}
	}
	return policy.Resource{}, false
}

// Children returns the owned resources whose parent is urn, sorted by type then name.
func (r *Result) Children(urn string) []policy.Resource {
	var out []policy.Resource
	for _, res := range r.Resources {
		if res.Parent == urn {
			out = append(out, res)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// mocks implements pulumi.MockResourceMonitor.
type mocks struct {
	project, stack, region string

	mu        sync.Mutex
	ctx       *pulumi.Context
	result    Result
	simParent map[string]string // logical name of a stand-in -> URN of its remote component
}

// Run evaluates body with the mocks. cfg holds stack configuration with
// fully qualified keys ("aws:region", "<project>:key").
func Run(project, stack string, cfg map[string]string, body pulumi.RunFunc) (*Result, error) {
	m := &mocks{
		project: project, stack: stack, region: cfg["aws:region"],
		result:    Result{Simulated: map[string]bool{}, Outputs: map[string]map[string]any{}},
		simParent: map[string]string{},
	}
	if m.region == "" {
		m.region = "us-west-2"
	}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		m.mu.Lock()
		m.ctx = ctx
		m.mu.Unlock()
		return body(ctx)
	}, pulumi.WithMocks(project, stack, m), func(ri *pulumi.RunInfo) { ri.Config = cfg })
	return &m.result, err
}

func (m *mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(typ), name))
}

// hexID is an n-character lower-case hex id derived from s.
func hexID(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

func shortHash(s string) string { return hexID(s, 7) }

// awsID is an ID as AWS gives VPCs, subnets, security groups and service
// networks: a prefix and 17 hex characters.
func awsID(prefix, seed string) string { return prefix + hexID(seed, 17) }

// oidcIssuer is the issuer URL EKS gives a cluster: one id per cluster.
func (m *mocks) oidcIssuer(cluster string) string {
	return "https://oidc.eks." + m.region + ".amazonaws.com/id/" + strings.ToUpper(hexID(cluster, 32))
}

func (m *mocks) arn(service, resourcePart string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, m.region, Account, resourcePart)
}

// iamARN is the ARN of a global IAM resource: no region.
func iamARN(resourcePart string) string { return "arn:aws:iam::" + Account + ":" + resourcePart }

func hostedZoneARN(zoneID string) string { return "arn:aws:route53:::hostedzone/" + zoneID }

// expand fills {region}, {account} and {name} in an ARN template.
func (m *mocks) expand(template, name string) string {
	return strings.NewReplacer("{region}", m.region, "{account}", Account, "{name}", name).Replace(template)
}

// codeCommit is what AWS answers for a CodeCommit repository, by the names
// CloudFormation gives its attributes.
func (m *mocks) codeCommit(name string) map[string]string {
	return map[string]string{
		"Name":         name,
		"Arn":          m.arn("codecommit", name),
		"CloneUrlHttp": "https://git-codecommit." + m.region + ".amazonaws.com/v1/repos/" + name,
	}
}

// str is a string property, or "" when it is absent or not a string.
func str(pm resource.PropertyMap, key string) string {
	if v, ok := pm[resource.PropertyKey(key)]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// registration is one resource being answered. Its outputs start as its
// inputs and its ID as Pulumi's auto-name, the logical name plus a hash.
type registration struct {
	m    *mocks
	args pulumi.MockResourceArgs
	urn  string
	id   string
	out  resource.PropertyMap
}

func (r *registration) in(key string) string { return str(r.args.Inputs, key) }

func (r *registration) set(key string, v any) {
	r.out[resource.PropertyKey(key)] = resource.NewPropertyValue(v)
}

func (r *registration) autoName() string { return r.args.Name + "-" + shortHash(r.urn) }

// physical is the resource's name in AWS: the input that sets it, else the
// auto-name.
func (r *registration) physical(key string) string {
	if n := r.in(key); n != "" {
		return n
	}
	return r.autoName()
}

// answer fills in the computed outputs and the ID of one type.
type answer func(r *registration) error

// answers are the types whose computed properties the program reads, by
// type token; any other type answers its inputs under the auto-named ID.
var answers = map[string]answer{
	"eks:index:Cluster":          (*registration).eksComponent,
	"eks:index:ManagedNodeGroup": (*registration).noID,

	"aws:eks/cluster:Cluster":            named{arn: "arn:aws:eks:{region}:{account}:cluster/{name}", then: eksClusterOutputs}.answer,
	"aws:iam/role:Role":                  named{arn: "arn:aws:iam::{account}:role/{name}"}.answer,
	"aws:lambda/function:Function":       named{arn: "arn:aws:lambda:{region}:{account}:function:{name}", then: lambdaOutputs}.answer,
	"aws:sfn/stateMachine:StateMachine":  named{arn: "arn:aws:states:{region}:{account}:stateMachine:{name}", idIsARN: true}.answer,
	"aws:sns/topic:Topic":                named{arn: "arn:aws:sns:{region}:{account}:{name}", idIsARN: true}.answer,
	"aws:cloudwatch/logGroup:LogGroup":   named{arn: "arn:aws:logs:{region}:{account}:log-group:{name}"}.answer,
	"aws:cloudwatch/eventRule:EventRule": named{arn: "arn:aws:events:{region}:{account}:rule/{name}"}.answer,
	"aws:ecr/repository:Repository":      named{arn: "arn:aws:ecr:{region}:{account}:repository/{name}", then: ecrOutputs}.answer,
	"aws:codebuild/project:Project":      named{arn: "arn:aws:codebuild:{region}:{account}:project/{name}", idIsARN: true}.answer,
	"aws:codepipeline/pipeline:Pipeline": named{arn: "arn:aws:codepipeline:{region}:{account}:{name}"}.answer,
	"aws:s3/bucketV2:BucketV2":           named{key: "bucket", lower: true, arn: "arn:aws:s3:::{name}"}.answer,

	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": (*registration).oidcProvider,
	"aws:codecommit/repository:Repository":                (*registration).codeCommitRepository,
	"aws:cloudformation/stack:Stack":                      (*registration).cloudFormationStack,
	"aws:cloudwatch/dashboard:Dashboard":                  (*registration).dashboard,
	"aws:ec2/vpc:Vpc":                                     idFromURN("vpc-"),
	"aws:ec2/subnet:Subnet":                               idFromURN("subnet-"),
	"aws:vpclattice/serviceNetwork:ServiceNetwork":        (*registration).serviceNetwork,
	"aws:route53/zone:Zone":                               (*registration).zone,
	"aws:route53/zoneAssociation:ZoneAssociation":         (*registration).zoneAssociation,
	"aws:eks/addon:Addon":                                 (*registration).addon,
	"kubernetes:core/v1:Service":                          (*registration).service,
	"aws:amp/workspace:Workspace":                         (*registration).prometheusWorkspace,
	"aws:amp/scraper:Scraper":                             (*registration).prometheusScraper,
}

// byPrefix apply after a type's own answer; the first prefix that matches
// applies, nil meaning nothing more.
var byPrefix = []struct {
	prefix string
	answer answer
}{
	// Helm releases and YAML groups are components, not named objects.
	{"kubernetes:helm", nil},
	{"kubernetes:yaml", nil},
	{"kubernetes:", (*registration).kubernetesName},
	{"pulumi:providers:", (*registration).providerID},
}

// named answers an AWS resource known by a name: the name (auto-named when
// its input is absent) and the ARN that ends in it come back as outputs; the
// ID is the name, or the ARN for the types whose provider uses that.
type named struct {
	key     string // the input that sets the name; "name" when empty
	arn     string // ARN template, see expand
	idIsARN bool
	lower   bool                                    // S3 bucket names are lower case
	then    func(r *registration, name, arn string) // outputs beyond name and ARN
}

func (n named) answer(r *registration) error {
	key := cmp.Or(n.key, "name")
	name := r.physical(key)
	if n.lower {
		name = strings.ToLower(name)
	}
	arn := r.m.expand(n.arn, name)
	r.set(key, name)
	r.set("arn", arn)
	r.id = name
	if n.idIsARN {
		r.id = arn
	}
	if n.then != nil {
		n.then(r, name, arn)
	}
	return nil
}

func eksClusterOutputs(r *registration, name, _ string) {
	r.set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": r.m.oidcIssuer(name)}}}})
	r.set("vpcConfig", map[string]any{"clusterSecurityGroupId": awsID("sg-", name+"cluster"), "vpcId": awsID("vpc-", r.m.stack)})
}

func lambdaOutputs(r *registration, _, arn string) {
	r.set("invokeArn", "arn:aws:apigateway:"+r.m.region+":lambda:path/2015-03-31/functions/"+arn+"/invocations")
}

func ecrOutputs(r *registration, name, _ string) {
	r.set("registryId", Account)
	r.set("repositoryUrl", Account+".dkr.ecr."+r.m.region+".amazonaws.com/"+name)
}

// idFromURN answers the types AWS identifies by a prefixed hex ID.
func idFromURN(prefix string) answer {
	return func(r *registration) error {
		r.id = awsID(prefix, r.urn)
		return nil
	}
}

// noID answers remote components, which have no ID.
func (r *registration) noID() error {
	r.id = ""
	return nil
}

// eksComponent answers the pulumi-eks cluster component with the children
// fakeCluster registers.
func (r *registration) eksComponent() error {
	r.id = ""
	return r.m.fakeCluster(r)
}

// oidcProvider: IAM names the provider after its URL without the scheme,
// which IRSA trust policies repeat in their condition keys.
func (r *registration) oidcProvider() error {
	r.set("arn", iamARN("oidc-provider/"+strings.TrimPrefix(r.in("url"), "https://")))
	return nil
}

func (r *registration) codeCommitRepository() error {
	name := r.physical("repositoryName")
	repo := r.m.codeCommit(name)
	r.id = name
	r.set("arn", repo["Arn"])
	r.set("cloneUrlHttp", repo["CloneUrlHttp"])
	return nil
}

func (r *registration) cloudFormationStack() error {
	outputs, err := r.m.stackOutputs(r.in("templateBody"))
	if err != nil {
		return err
	}
	r.set("outputs", outputs)
	r.id = r.m.arn("cloudformation", "stack/"+r.physical("name")+"/"+shortHash(r.urn))
	return nil
}

func (r *registration) dashboard() error {
	r.id = r.in("dashboardName")
	return nil
}

func (r *registration) serviceNetwork() error {
	r.id = awsID("sn-", r.urn)
	r.set("arn", r.m.arn("vpc-lattice", "servicenetwork/"+r.id))
	return nil
}

func (r *registration) zone() error {
	r.id = "Z0" + strings.ToUpper(shortHash(r.urn)+shortHash(r.urn+"zone"))
	r.set("zoneId", r.id)
	r.set("arn", hostedZoneARN(r.id))
	r.set("nameServers", []any{"ns-0.awsdns-00.com."})
	return nil
}

func (r *registration) zoneAssociation() error {
	r.id = r.in("zoneId") + ":" + r.in("vpcId")
	r.set("owningAccount", Account)
	return nil
}

// prometheusWorkspace answers what the service gives a new workspace: an
// ID, its ARN and the query endpoint in the workspace's region.
func (r *registration) prometheusWorkspace() error {
	r.id = "ws-" + hexID(r.urn, 8) + "-" + hexID(r.urn+"ws", 4) + "-" + hexID(r.urn+"ws4", 4)
	r.set("arn", r.m.arn("aps", "workspace/"+r.id))
	r.set("prometheusEndpoint", "https://aps-workspaces."+r.m.region+".amazonaws.com/workspaces/"+r.id+"/")
	return nil
}

// prometheusScraper answers a managed collector's ID and ARN and the
// service-linked role it runs as.
func (r *registration) prometheusScraper() error {
	r.id = "s-" + hexID(r.urn, 8) + "-" + hexID(r.urn+"s", 4)
	r.set("arn", r.m.arn("aps", "scraper/"+r.id))
	r.set("roleArn", iamARN("role/aws-service-role/scraper.aps.amazonaws.com/AWSServiceRoleForAmazonPrometheusScraper_"+hexID(r.urn+"role", 12)))
	return nil
}

func (r *registration) addon() error {
	r.set("arn", r.m.arn("eks", "addon/"+r.in("addonName")+"/"+shortHash(r.urn)))
	return nil
}

// service gives LoadBalancer services the hostname the load balancer
// controller would publish.
func (r *registration) service() error {
	spec := r.args.Inputs["spec"]
	if !spec.IsObject() || str(spec.ObjectValue(), "type") != "LoadBalancer" {
		return nil
	}
	r.set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{
		"hostname": "a" + shortHash(r.urn) + "-" + shortHash(r.urn+"lb") + ".elb." + r.m.region + ".amazonaws.com",
	}}}})
	return nil
}

// kubernetesName gives objects without metadata.name the generated name the
// Kubernetes provider would.
func (r *registration) kubernetesName() error {
	meta := resource.PropertyMap{}
	if v, ok := r.out["metadata"]; ok && v.IsObject() {
		meta = v.ObjectValue().Copy()
	}
	if str(meta, "name") != "" {
		return nil
	}
	meta["name"] = resource.NewProperty(r.autoName())
	r.out["metadata"] = resource.NewProperty(meta)
	return nil
}

func (r *registration) providerID() error {
	r.id = shortHash(r.urn)
	return nil
}

// NewResource records the resource and returns its outputs: the inputs plus
// the computed properties the program reads.
func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	parent := ""
	custom := args.Custom
	var deps []string
	if args.RegisterRPC != nil {
		parent = args.RegisterRPC.GetParent()
		custom = args.RegisterRPC.GetCustom()
		deps = args.RegisterRPC.GetDependencies()
	}
	if args.ReadRPC != nil {
		parent = args.ReadRPC.GetParent()
	}
	m.mu.Lock()
	simParent, simulated := m.simParent[args.Name]
	m.mu.Unlock()
	if simulated {
		parent = simParent
	}
	r := &registration{m: m, args: args, urn: m.urn(parent, args.TypeToken, args.Name), out: args.Inputs.Copy()}
	r.id = r.autoName()
	if err := r.answer(); err != nil {
		return "", nil, fmt.Errorf("mock %s: %w", args.Name, err)
	}

	m.mu.Lock()
	m.result.Resources = append(m.result.Resources, policy.Resource{
		URN: r.urn, Type: args.TypeToken, Name: args.Name, Parent: parent, Custom: custom, ID: r.id,
		Inputs: plainMap(args.Inputs), Dependencies: deps, Provider: args.Provider,
	})
	if simulated {
		m.result.Simulated[r.urn] = true
	}
	m.result.Outputs[r.urn] = plainMap(r.out)
	m.mu.Unlock()
	return r.id, r.out, nil
}

// answer applies the type's own answer, then the first matching prefix's.
func (r *registration) answer() error {
	if a, ok := answers[r.args.TypeToken]; ok {
		if err := a(r); err != nil {
			return err
		}
	}
	for _, p := range byPrefix {
		if strings.HasPrefix(r.args.TypeToken, p.prefix) {
			if p.answer == nil {
				return nil
			}
			return p.answer(r)
		}
	}
	return nil
}

// fakeCluster stands in for the pulumi-eks component: it registers the AWS
// cluster and the OIDC provider the component would create and returns
// references to them, with a kubeconfig that has the shape pulumi-eks gives.
func (m *mocks) fakeCluster(r *registration) error {
	m.mu.Lock()
	ctx := m.ctx
	m.simParent[r.args.Name+"-eksCluster"] = r.urn
	m.simParent[r.args.Name+"-oidcProvider"] = r.urn
	m.mu.Unlock()

	name := cmp.Or(r.in("name"), r.args.Name)
	cluster, err := awseks.NewCluster(ctx, r.args.Name+"-eksCluster", &awseks.ClusterArgs{
		Name:      pulumi.String(name),
		RoleArn:   pulumi.String(iamARN("role/" + name + "-eksRole")),
		VpcConfig: &awseks.ClusterVpcConfigArgs{SubnetIds: pulumi.StringArray{}},
	})
	if err != nil {
		return err
	}
	oidc, err := iam.NewOpenIdConnectProvider(ctx, r.args.Name+"-oidcProvider", &iam.OpenIdConnectProviderArgs{
		Url:             pulumi.String(m.oidcIssuer(name)),
		ClientIdLists:   pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
		ThumbprintLists: pulumi.StringArray{},
	})
	if err != nil {
		return err
	}
	clusterRef, err := reference(ctx, cluster)
	if err != nil {
		return err
	}
	oidcRef, err := reference(ctx, oidc)
	if err != nil {
		return err
	}
	endpoint := "https://" + strings.ToUpper(shortHash(name)) + ".gr7." + m.region + ".eks.amazonaws.com"
	kubeconfig := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "aws",
		"clusters": []any{map[string]any{"name": "kubernetes", "cluster": map[string]any{
			"server": endpoint, "certificate-authority-data": "LS0tLS1CRUdJTi1DRVJUSUZJQ0FURS0tLS0t",
		}}},
		"contexts": []any{map[string]any{"name": "aws", "context": map[string]any{"cluster": "kubernetes", "user": "aws"}}},
		"users": []any{map[string]any{"name": "aws", "user": map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
			"args": []any{"eks", "get-token", "--cluster-name", name, "--output", "json"},
		}}}},
	}
	kubeconfigJSON, err := json.Marshal(kubeconfig)
	if err != nil {
		return err
	}
	r.out["eksCluster"] = clusterRef
	r.out["kubeconfigJson"] = resource.NewProperty(string(kubeconfigJSON))
	r.out["kubeconfig"] = resource.NewPropertyValue(kubeconfig)
	core := resource.PropertyMap{
		"cluster":      clusterRef,
		"oidcProvider": oidcRef,
		"endpoint":     resource.NewProperty(endpoint),
	}
	if v, ok := r.args.Inputs["vpcId"]; ok {
		core["vpcId"] = v
	}
	r.out["core"] = resource.NewProperty(core)
	return nil
}

func reference(ctx *pulumi.Context, r pulumi.CustomResource) (resource.PropertyValue, error) {
	urn, err := internals.UnsafeAwaitOutput(ctx.Context(), r.URN())
	if err != nil {
		return resource.PropertyValue{}, err
	}
	id, err := internals.UnsafeAwaitOutput(ctx.Context(), r.ID())
	if err != nil {
		return resource.PropertyValue{}, err
	}
	return resource.MakeCustomResourceReference(resource.URN(urn.Value.(pulumi.URN)), resource.ID(id.Value.(pulumi.ID)), ""), nil
}

// stackOutputs answers a CloudFormation stack of one CodeCommit repository
// with the outputs its template declares.
func (m *mocks) stackOutputs(template string) (map[string]any, error) {
	var t struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		} `json:"Resources"`
		Outputs map[string]any `json:"Outputs"`
	}
	if err := json.Unmarshal([]byte(template), &t); err != nil {
		return nil, fmt.Errorf("template is not JSON: %w", err)
	}
	out := map[string]any{}
	for _, r := range t.Resources {
		if r.Type != "AWS::CodeCommit::Repository" {
			continue
		}
		name, _ := r.Properties["RepositoryName"].(string)
		values := m.codeCommit(name)
		for k := range t.Outputs {
			if v, ok := values[k]; ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// invoke answers one function the program calls.
type invoke func(m *mocks, args resource.PropertyMap) (map[string]any, error)

// invokes are the functions the program calls, by token.
var invokes = map[string]invoke{
	"aws:index/getCallerIdentity:getCallerIdentity":       (*mocks).callerIdentity,
	"aws:index/getPartition:getPartition":                 (*mocks).partition,
	"aws:index/getRegion:getRegion":                       (*mocks).regionInfo,
	"aws:index/getAvailabilityZones:getAvailabilityZones": (*mocks).availabilityZones,
	"aws:route53/getZone:getZone":                         (*mocks).hostedZone,
	"aws:ec2/getManagedPrefixList:getManagedPrefixList":   (*mocks).managedPrefixList,
}

// Call answers the invokes the program makes.
func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.result.Invokes = append(m.result.Invokes, args.Token)
	m.mu.Unlock()
	f, ok := invokes[args.Token]
	if !ok {
		return nil, fmt.Errorf("offline evaluation has no answer for invoke %s", args.Token)
	}
	out, err := f(m, args.Args)
	if err != nil {
		return nil, err
	}
	return resource.NewPropertyMapFromMap(out), nil
}

func (m *mocks) callerIdentity(resource.PropertyMap) (map[string]any, error) {
	return map[string]any{"accountId": Account, "arn": iamARN("user/deployer"), "userId": "AIDAEXAMPLE", "id": Account}, nil
}

func (m *mocks) partition(resource.PropertyMap) (map[string]any, error) {
	return map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}, nil
}

func (m *mocks) regionInfo(resource.PropertyMap) (map[string]any, error) {
	return map[string]any{"name": m.region, "description": m.region, "endpoint": "ec2." + m.region + ".amazonaws.com", "id": m.region}, nil
}

func (m *mocks) availabilityZones(resource.PropertyMap) (map[string]any, error) {
	var names, ids []any
	for i, s := range []string{"a", "b", "c", "d"} {
		names = append(names, m.region+s)
		ids = append(ids, fmt.Sprintf("usw2-az%d", i+1))
	}
	return map[string]any{"names": names, "zoneIds": ids, "id": m.region}, nil
}

func (m *mocks) hostedZone(args resource.PropertyMap) (map[string]any, error) {
	zoneID := str(args, "zoneId")
	z, ok := HostedZones[zoneID]
	if !ok {
		return nil, fmt.Errorf("no matching Route 53 Hosted Zone found (zone %q)", zoneID)
	}
	return map[string]any{
		"id": zoneID, "zoneId": zoneID, "name": z.Name + ".", "privateZone": z.Private,
		"arn": hostedZoneARN(zoneID), "callerReference": "offline", "comment": "",
		"nameServers": []any{}, "resourceRecordSetCount": 2, "tags": map[string]any{},
	}, nil
}

func (m *mocks) managedPrefixList(args resource.PropertyMap) (map[string]any, error) {
	return map[string]any{
		"id": "pl-0721453c7ac4ec009", "name": str(args, "name"), "addressFamily": "IPv4",
		"arn": m.arn("ec2", "prefix-list/pl-0721453c7ac4ec009"), "ownerId": "AWS", "entries": []any{}, "maxEntries": 10,
	}, nil
}

// plainMap converts recorded inputs to JSON-like values: secrets are
// unwrapped, assets and archives become their paths, resource references
// their URNs.
func plainMap(pm resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(pm))
	for k, v := range pm {
		out[string(k)] = plain(v)
	}
	return out
}

func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsAsset():
		return v.AssetValue().Path
	case v.IsArchive():
		return v.ArchiveValue().Path
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsComputed(), v.IsOutput():
		if v.IsOutput() && v.OutputValue().Known {
			return plain(v.OutputValue().Element)
		}
		return nil
	}
	return v.Mappable()
}
