// Package offline evaluates the Pulumi program without a cloud: Pulumi's mock
// resource monitor records every resource the program registers, with its
// inputs, and answers with plausible outputs (ARNs, URLs, IDs, a kubeconfig)
// so that output-dependent code runs as it would in a deployment. Tests and
// the resource graph command share it.
package offline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"sigs.k8s.io/yaml"

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

// hexID is an n-character lower-case hex id, as AWS gives VPCs, subnets,
// security groups and service networks (17 characters).
func hexID(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:7]
}

// oidcIssuer is the issuer URL EKS gives a cluster: one id per cluster.
func (m *mocks) oidcIssuer(cluster string) string {
	return "https://oidc.eks." + m.region + ".amazonaws.com/id/" + strings.ToUpper(hexID(cluster, 32))
}

func (m *mocks) arn(service, resourcePart string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, m.region, Account, resourcePart)
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
	urn := m.urn(parent, args.TypeToken, args.Name)

	out := args.Inputs.Copy()
	in := func(k string) string {
		if v, ok := args.Inputs[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	physical := func(key string) string {
		if n := in(key); n != "" {
			return n
		}
		return args.Name + "-" + shortHash(urn)
	}
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	id := args.Name + "-" + shortHash(urn)

	switch args.TypeToken {
	case "eks:index:Cluster":
		if err := m.fakeCluster(args, urn, out); err != nil {
			return "", nil, err
		}
		id = ""
	case "eks:index:ManagedNodeGroup":
		id = ""
	case "aws:eks/cluster:Cluster":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", m.arn("eks", "cluster/"+name))
		set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": m.oidcIssuer(name)}}}})
		set("vpcConfig", map[string]any{"clusterSecurityGroupId": "sg-" + hexID(name+"cluster", 17), "vpcId": "vpc-" + hexID(m.stack, 17)})
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		// IAM names the provider after its URL without the scheme, which
		// IRSA trust policies repeat in their condition keys.
		set("arn", "arn:aws:iam::"+Account+":oidc-provider/"+strings.TrimPrefix(in("url"), "https://"))
	case "aws:iam/role:Role":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", "arn:aws:iam::"+Account+":role/"+name)
	case "aws:lambda/function:Function":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", m.arn("lambda", "function:"+name))
		set("invokeArn", "arn:aws:apigateway:"+m.region+":lambda:path/2015-03-31/functions/"+m.arn("lambda", "function:"+name)+"/invocations")
	case "aws:sfn/stateMachine:StateMachine":
		name := physical("name")
		set("name", name)
		set("arn", m.arn("states", "stateMachine:"+name))
		id = m.arn("states", "stateMachine:"+name)
	case "aws:sns/topic:Topic":
		name := physical("name")
		set("name", name)
		set("arn", m.arn("sns", name))
		id = m.arn("sns", name)
	case "aws:cloudwatch/logGroup:LogGroup":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", m.arn("logs", "log-group:"+name))
	case "aws:cloudwatch/eventRule:EventRule":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", m.arn("events", "rule/"+name))
	case "aws:ecr/repository:Repository":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", m.arn("ecr", "repository/"+name))
		set("registryId", Account)
		set("repositoryUrl", Account+".dkr.ecr."+m.region+".amazonaws.com/"+name)
	case "aws:codebuild/project:Project":
		name := physical("name")
		set("name", name)
		set("arn", m.arn("codebuild", "project/"+name))
		id = m.arn("codebuild", "project/"+name)
	case "aws:codepipeline/pipeline:Pipeline":
		name := physical("name")
		id = name
		set("name", name)
		set("arn", m.arn("codepipeline", name))
	case "aws:codecommit/repository:Repository":
		name := physical("repositoryName")
		id = name
		set("arn", m.arn("codecommit", name))
		set("cloneUrlHttp", "https://git-codecommit."+m.region+".amazonaws.com/v1/repos/"+name)
	case "aws:cloudformation/stack:Stack":
		outputs, err := m.stackOutputs(in("templateBody"))
		if err != nil {
			return "", nil, fmt.Errorf("mock %s: %w", args.Name, err)
		}
		set("outputs", outputs)
		id = m.arn("cloudformation", "stack/"+physical("name")+"/"+shortHash(urn))
	case "aws:s3/bucketV2:BucketV2":
		name := strings.ToLower(physical("bucket"))
		id = name
		set("bucket", name)
		set("arn", "arn:aws:s3:::"+name)
	case "aws:cloudwatch/dashboard:Dashboard":
		id = in("dashboardName")
	case "aws:ec2/vpc:Vpc":
		id = "vpc-" + hexID(urn, 17)
	case "aws:ec2/subnet:Subnet":
		id = "subnet-" + hexID(urn, 17)
	case "aws:vpclattice/serviceNetwork:ServiceNetwork":
		id = "sn-" + hexID(urn, 17)
		set("arn", m.arn("vpc-lattice", "servicenetwork/"+id))
	case "aws:route53/zone:Zone":
		zoneID := "Z0" + strings.ToUpper(shortHash(urn)+shortHash(urn+"zone"))
		id = zoneID
		set("zoneId", zoneID)
		set("arn", "arn:aws:route53:::hostedzone/"+zoneID)
		set("nameServers", []any{"ns-0.awsdns-00.com."})
	case "aws:route53/zoneAssociation:ZoneAssociation":
		id = in("zoneId") + ":" + in("vpcId")
		set("owningAccount", Account)
	case "aws:eks/addon:Addon":
		set("arn", m.arn("eks", "addon/"+in("addonName")+"/"+shortHash(urn)))
	case "kubernetes:core/v1:Service":
		if spec := args.Inputs["spec"]; spec.IsObject() {
			if t := spec.ObjectValue()["type"]; t.IsString() && t.StringValue() == "LoadBalancer" {
				set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{
					"hostname": "a" + shortHash(urn) + "-" + shortHash(urn+"lb") + ".elb." + m.region + ".amazonaws.com",
				}}}})
			}
		}
	}
	if strings.HasPrefix(args.TypeToken, "kubernetes:") && !strings.HasPrefix(args.TypeToken, "kubernetes:helm") &&
		!strings.HasPrefix(args.TypeToken, "kubernetes:yaml") {
		ensureK8sName(out, args.Name+"-"+shortHash(urn))
	}
	if strings.HasPrefix(args.TypeToken, "pulumi:providers:") {
		id = shortHash(urn)
	}

	m.mu.Lock()
	m.result.Resources = append(m.result.Resources, policy.Resource{
		URN: urn, Type: args.TypeToken, Name: args.Name, Parent: parent, Custom: custom, ID: id,
		Inputs: plainMap(args.Inputs), Dependencies: deps, Provider: args.Provider,
	})
	if simulated {
		m.result.Simulated[urn] = true
	}
	m.result.Outputs[urn] = plainMap(out)
	m.mu.Unlock()
	return id, out, nil
}

// ensureK8sName gives objects without metadata.name the generated name the
// Kubernetes provider would.
func ensureK8sName(out resource.PropertyMap, generated string) {
	meta := resource.PropertyMap{}
	if v, ok := out["metadata"]; ok && v.IsObject() {
		meta = v.ObjectValue().Copy()
	}
	if n, ok := meta["name"]; ok && n.IsString() && n.StringValue() != "" {
		return
	}
	meta["name"] = resource.NewProperty(generated)
	out["metadata"] = resource.NewProperty(meta)
}

// fakeCluster stands in for the pulumi-eks component: it registers the AWS
// cluster and the OIDC provider the component would create and returns
// references to them, with a kubeconfig that has the shape pulumi-eks gives.
func (m *mocks) fakeCluster(args pulumi.MockResourceArgs, urn string, out resource.PropertyMap) error {
	m.mu.Lock()
	ctx := m.ctx
	m.simParent[args.Name+"-eksCluster"] = urn
	m.simParent[args.Name+"-oidcProvider"] = urn
	m.mu.Unlock()

	name := args.Name
	if v, ok := args.Inputs["name"]; ok && v.IsString() {
		name = v.StringValue()
	}
	cluster, err := awseks.NewCluster(ctx, args.Name+"-eksCluster", &awseks.ClusterArgs{
		Name:      pulumi.String(name),
		RoleArn:   pulumi.String("arn:aws:iam::" + Account + ":role/" + name + "-eksRole"),
		VpcConfig: &awseks.ClusterVpcConfigArgs{SubnetIds: pulumi.StringArray{}},
	})
	if err != nil {
		return err
	}
	oidc, err := iam.NewOpenIdConnectProvider(ctx, args.Name+"-oidcProvider", &iam.OpenIdConnectProviderArgs{
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
	out["eksCluster"] = clusterRef
	out["kubeconfigJson"] = resource.NewProperty(string(kubeconfigJSON))
	out["kubeconfig"] = resource.NewPropertyValue(kubeconfig)
	core := resource.PropertyMap{
		"cluster":      clusterRef,
		"oidcProvider": oidcRef,
		"endpoint":     resource.NewProperty(endpoint),
	}
	if v, ok := args.Inputs["vpcId"]; ok {
		core["vpcId"] = v
	}
	out["core"] = resource.NewProperty(core)
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
		values := map[string]string{
			"Name":         name,
			"Arn":          m.arn("codecommit", name),
			"CloneUrlHttp": "https://git-codecommit." + m.region + ".amazonaws.com/v1/repos/" + name,
		}
		for k := range t.Outputs {
			if v, ok := values[k]; ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// Call answers the invokes the program makes.
func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.result.Invokes = append(m.result.Invokes, args.Token)
	m.mu.Unlock()
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": Account, "arn": "arn:aws:iam::" + Account + ":user/deployer", "userId": "AIDAEXAMPLE", "id": Account,
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws",
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": m.region, "description": m.region, "endpoint": "ec2." + m.region + ".amazonaws.com", "id": m.region,
		}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		var names, ids []any
		for i, s := range []string{"a", "b", "c", "d"} {
			names = append(names, m.region+s)
			ids = append(ids, fmt.Sprintf("usw2-az%d", i+1))
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names, "zoneIds": ids, "id": m.region}), nil
	case "aws:route53/getZone:getZone":
		zoneID := ""
		if v, ok := args.Args["zoneId"]; ok && v.IsString() {
			zoneID = v.StringValue()
		}
		z, ok := HostedZones[zoneID]
		if !ok {
			return nil, fmt.Errorf("no matching Route 53 Hosted Zone found (zone %q)", zoneID)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": zoneID, "zoneId": zoneID, "name": z.Name + ".", "privateZone": z.Private,
			"arn": "arn:aws:route53:::hostedzone/" + zoneID, "callerReference": "offline", "comment": "",
			"nameServers": []any{}, "resourceRecordSetCount": 2, "tags": map[string]any{},
		}), nil
	case "aws:ec2/getManagedPrefixList:getManagedPrefixList":
		name := ""
		if v, ok := args.Args["name"]; ok && v.IsString() {
			name = v.StringValue()
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": "pl-0721453c7ac4ec009", "name": name, "addressFamily": "IPv4",
			"arn": m.arn("ec2", "prefix-list/pl-0721453c7ac4ec009"), "ownerId": "AWS", "entries": []any{}, "maxEntries": 10,
		}), nil
	}
	return nil, fmt.Errorf("offline evaluation has no answer for invoke %s", args.Token)
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

// StackConfig reads the project name from Pulumi.yaml and the configuration
// of one stack from Pulumi.<stack>.yaml in dir, as Pulumi hands it to the
// program: strings as they are, lists and objects as JSON. Encrypted values
// cannot be read offline and are left out (their keys are returned).
func StackConfig(dir, stack string) (project string, cfg map[string]string, secrets []string, err error) {
	var proj struct {
		Name string `json:"name"`
	}
	if err := readYAML(filepath.Join(dir, "Pulumi.yaml"), &proj); err != nil {
		return "", nil, nil, err
	}
	if proj.Name == "" {
		return "", nil, nil, fmt.Errorf("%s: no project name", filepath.Join(dir, "Pulumi.yaml"))
	}
	var st struct {
		Config map[string]any `json:"config"`
	}
	file := filepath.Join(dir, "Pulumi."+stack+".yaml")
	if err := readYAML(file, &st); err != nil {
		return "", nil, nil, err
	}
	cfg = map[string]string{}
	for k, v := range st.Config {
		if !strings.Contains(k, ":") {
			k = proj.Name + ":" + k
		}
		switch t := v.(type) {
		case string:
			cfg[k] = t
		case map[string]any:
			if _, ok := t["secure"]; ok {
				secrets = append(secrets, k)
				continue
			}
			b, err := json.Marshal(t)
			if err != nil {
				return "", nil, nil, fmt.Errorf("%s: %s: %w", file, k, err)
			}
			cfg[k] = string(b)
		case []any:
			b, err := json.Marshal(t)
			if err != nil {
				return "", nil, nil, fmt.Errorf("%s: %s: %w", file, k, err)
			}
			cfg[k] = string(b)
		case nil:
			cfg[k] = ""
		default:
			cfg[k] = fmt.Sprint(t)
		}
	}
	sort.Strings(secrets)
	return proj.Name, cfg, secrets, nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
