package checks

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/awsrules"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/stacks/config"
)

// unchecked are the AWS types the model check leaves out, and why.
var unchecked = map[string]string{
	"aws:ec2/vpc:Vpc":                                                      "EC2's model constrains no field the program sets (CIDRs, ids)",
	"aws:ec2/subnet:Subnet":                                                "as above",
	"aws:ec2/internetGateway:InternetGateway":                              "as above",
	"aws:ec2/eip:Eip":                                                      "as above",
	"aws:ec2/natGateway:NatGateway":                                        "as above",
	"aws:ec2/routeTable:RouteTable":                                        "as above",
	"aws:ec2/routeTableAssociation:RouteTableAssociation":                  "as above",
	"aws:ec2/route:Route":                                                  "as above",
	"aws:ec2/securityGroup:SecurityGroup":                                  "as above",
	"aws:ec2/securityGroupRule:SecurityGroupRule":                          "as above",
	"aws:s3/bucketPolicy:BucketPolicy":                                     "the policy document goes through cfn-lint",
	"aws:s3/bucketV2:BucketV2":                                             "S3's model carries no bucket-name constraints",
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":               "booleans only",
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                         "S3 model: no constraints",
	"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": "S3 model: no constraints",
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": "S3 model: no constraints",
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":                                     "S3 model: no constraints",
	"aws:s3/bucketObjectv2:BucketObjectv2":                                                       "S3 model: no constraints",
}

func awsResources(r *run) []policy.Resource {
	var out []policy.Resource
	for _, res := range r.res.Resources {
		if strings.HasPrefix(res.Type, "aws:") {
			out = append(out, res)
		}
	}
	return out
}

func TestAWSResourcesAgainstTheServiceModels(t *testing.T) {
	models, err := awsrules.LoadModels()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, r *run) {
		resources := awsResources(r)
		checked := map[string]int{}
		for _, res := range resources {
			if _, ok := awsrules.Bindings[res.Type]; ok {
				checked[res.Type]++
			} else if _, ok := unchecked[res.Type]; !ok {
				t.Errorf("%s %q: no model binding: add one to internal/awsrules/bindings.go (then go run ./internal/awsrules/gen) or list the type as unchecked with the reason", res.Type, res.Name)
			}
		}
		found := append(models.Check(resources), awsrules.CheckDocumented(resources)...)
		if len(found) > 0 {
			t.Errorf("%d inputs AWS would refuse:%s", len(found), lines(found))
		}
		for _, typ := range []string{"aws:lambda/function:Function", "aws:cloudwatch/eventRule:EventRule", "aws:cloudformation/stack:Stack",
			"aws:codebuild/project:Project", "aws:codepipeline/pipeline:Pipeline", "aws:iam/role:Role", "aws:sfn/stateMachine:StateMachine"} {
			if checked[typ] == 0 {
				t.Errorf("no %s checked", typ)
			}
		}
		t.Logf("checked %d resources of %d types against the models", sum(checked), len(checked))
	}
	eachLayer(t, check)
	// Off in the dev stack: the workspace and its collector.
	t.Run("prometheusWorkspace", func(t *testing.T) {
		r := devStackWith(t, layers[0], map[string]string{config.KeyPrometheusWS: "true"})
		check(t, r)
		for _, typ := range []string{pt.TypeAMPWorkspace, pt.TypeAMPScraper} {
			if !slices.ContainsFunc(awsResources(r), func(res policy.Resource) bool { return res.Type == typ }) {
				t.Errorf("no %s with %s true", typ, config.KeyPrometheusWS)
			}
		}
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// The config's clusterName limits are the program's names and AWS's limits:
// every derived name the program registers is one config knows, and no
// config limit is looser than the model's or the documented one.
func TestConfigNameLimitsAreTheProgramsAndAWSs(t *testing.T) {
	models, err := awsrules.LoadModels()
	if err != nil {
		t.Fatal(err)
	}
	r := devStack(t, layers[0])
	var services []string
	for _, m := range r.cfg.Microservices {
		services = append(services, m.Name)
	}
	want := config.NamesFor(r.cfg.ClusterName, services)
	for _, d := range config.DerivedNames {
		var got []string
		for _, res := range r.res.Owned() {
			if res.Type != d.Resource {
				continue
			}
			in := awsrules.PhysicalInputs(res)
			for _, k := range []string{"name", "dashboardName"} {
				// Names derived from a microservice alone (autonamed push
				// rules) are not the cluster name's to limit.
				if s, _ := in[k].(string); strings.HasPrefix(s, r.cfg.ClusterName+"-") {
					got = append(got, s)
					break
				}
			}
		}
		sort.Strings(got)
		exp := slices.Clone(want[d.Resource])
		sort.Strings(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("%s: the program registers %v, stacks/config derives %v: keep config.DerivedNames in step with the program", d.Resource, got, exp)
		}
		limit, pattern := modelLimit(t, models, d.Resource)
		for _, doc := range awsrules.DocumentedNames {
			if doc.Type == d.Resource && (limit == 0 || doc.Max < limit) {
				limit = doc.Max
			}
		}
		if limit == 0 || d.Max > limit {
			t.Errorf("%s: config allows %d characters, AWS %d", d.Resource, d.Max, limit)
		}
		if pattern != nil {
			for _, n := range exp {
				if d.Pattern.MatchString(n) && !pattern.MatchString(n) {
					t.Errorf("%s: %q passes the config's pattern, not the model's", d.Resource, n)
				}
			}
		}
	}
}

// modelLimit is the max length and pattern of the name member of a type's
// input shape.
func modelLimit(t *testing.T, m *awsrules.Models, typ string) (int, *regexp.Regexp) {
	b := awsrules.Bindings[typ]
	svc := m.Services[b.Service]
	shape := svc.Shapes[b.Shape]
	member := b.Aliases["name"]
	if member == "" {
		for name := range shape.Members {
			if strings.EqualFold(name, "name") || strings.EqualFold(name, "dashboardName") {
				member = name
			}
		}
	}
	s := svc.Shapes[shape.Members[member].Shape]
	var re *regexp.Regexp
	if s.Pattern != "" {
		re, _ = regexp.Compile("^(?:" + s.Pattern + ")$")
	}
	if s.Max == nil {
		return 0, re
	}
	return int(*s.Max), re
}

func TestIAMDocumentsAndTemplatesPassCfnLint(t *testing.T) {
	eachLayer(t, func(t *testing.T, r *run) {
		resources := awsResources(r)
		_, ids := awsrules.IAMTemplate(resources)
		if len(ids) < 10 {
			t.Fatalf("only %d IAM documents found", len(ids))
		}
		found, err := awsrules.LintIAM(resources)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			t.Errorf("cfn-lint:%s", lines(found))
		}
		t.Logf("%d IAM documents and the seed templates linted", len(ids))
	})
}

func TestStateMachinePassesAslValidator(t *testing.T) {
	r := devStack(t, layers[0])
	machines := r.res.ByType("aws:sfn/stateMachine:StateMachine")
	if len(machines) != 1 {
		t.Fatalf("%d state machines, want 1", len(machines))
	}
	found, err := awsrules.ValidateStateMachines(machines)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("asl-validator:%s", lines(found))
	}
}
