package cloudwatch

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

type fakeLattice struct {
	pages    []*vpclattice.ListTargetGroupsOutput
	tags     map[string]map[string]string // by ARN
	listErr  error
	tagsErr  error
	tokens   []string // NextToken of every ListTargetGroups call
	tagCalls []string // ARN of every ListTagsForResource call
}

func (f *fakeLattice) ListTargetGroups(_ context.Context, in *vpclattice.ListTargetGroupsInput, _ ...func(*vpclattice.Options)) (*vpclattice.ListTargetGroupsOutput, error) {
	f.tokens = append(f.tokens, aws.ToString(in.NextToken))
	if f.listErr != nil {
		return nil, f.listErr
	}
	return f.pages[len(f.tokens)-1], nil
}

func (f *fakeLattice) ListTagsForResource(_ context.Context, in *vpclattice.ListTagsForResourceInput, _ ...func(*vpclattice.Options)) (*vpclattice.ListTagsForResourceOutput, error) {
	arn := aws.ToString(in.ResourceArn)
	f.tagCalls = append(f.tagCalls, arn)
	if f.tagsErr != nil {
		return nil, f.tagsErr
	}
	return &vpclattice.ListTagsForResourceOutput{Tags: f.tags[arn]}, nil
}

func tg(id, name string, status types.TargetGroupStatus) types.TargetGroupSummary {
	return types.TargetGroupSummary{Id: aws.String(id), Arn: aws.String("arn:" + id), Name: aws.String(name), Status: status}
}

func controllerTags(cluster, namespace, service, source string) map[string]string {
	return map[string]string{
		TagClusterName: cluster, TagServiceNamespace: namespace, TagServiceName: service, TagSourceType: source,
		tagBase + "RouteName": "yelb-ui", tagBase + "RouteNamespace": namespace,
	}
}

func TestLatticeTargetGroups(t *testing.T) {
	fake := &fakeLattice{
		pages: []*vpclattice.ListTargetGroupsOutput{
			{
				Items: []types.TargetGroupSummary{
					tg("tg-1", "k8s-yelb-yelb-ui-3-abcdefghij", types.TargetGroupStatusActive),
					tg("tg-2", "k8s-yelb-yelb-ui-2-abcdefghij", types.TargetGroupStatusActive),           // another version: name filter
					tg("tg-3", "k8s-yelb-yelb-ui-3-klmnopqrst", types.TargetGroupStatusActive),           // ServiceExport
					tg("tg-4", "k8s-yelb-yelb-ui-3-uvwxyzabcd", types.TargetGroupStatusDeleteInProgress), // going away
				},
				NextToken: aws.String("next"),
			},
			{
				Items: []types.TargetGroupSummary{
					tg("tg-5", "k8s-yelb-yelb-ui-3-bcdefghijk", types.TargetGroupStatusCreateInProgress),
					tg("tg-6", "k8s-yelb-yelb-ui-3-cdefghijkl", types.TargetGroupStatusActive), // other cluster
					tg("tg-7", "k8s-yelb-yelb-ui-3-defghijklm", types.TargetGroupStatusActive), // untagged leftover
					tg("tg-8", "unrelated", types.TargetGroupStatusActive),
				},
			},
		},
		tags: map[string]map[string]string{
			"arn:tg-1": controllerTags("prod", "yelb", "yelb-ui-3", "HTTPRoute"),
			"arn:tg-3": controllerTags("prod", "yelb", "yelb-ui-3", "ServiceExport"),
			"arn:tg-5": controllerTags("prod", "yelb", "yelb-ui-3", "HTTPRoute"),
			"arn:tg-6": controllerTags("staging", "yelb", "yelb-ui-3", "HTTPRoute"),
		},
	}
	ids, err := LatticeTargetGroups{API: fake}.TargetGroups(context.Background(), "prod", "yelb", "yelb-ui-3")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tg-1", "tg-5"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("target groups = %v, want %v", ids, want)
	}
	if want := []string{"", "next"}; !reflect.DeepEqual(fake.tokens, want) {
		t.Errorf("ListTargetGroups tokens = %v, want %v", fake.tokens, want)
	}
	// Tags are read only for live groups whose name has the service's prefix.
	if want := []string{"arn:tg-1", "arn:tg-3", "arn:tg-5", "arn:tg-6", "arn:tg-7"}; !reflect.DeepEqual(fake.tagCalls, want) {
		t.Errorf("ListTagsForResource calls = %v, want %v", fake.tagCalls, want)
	}
}

func TestLatticeTargetGroupsLongNames(t *testing.T) {
	long := strings.Repeat("n", 60)
	fake := &fakeLattice{
		pages: []*vpclattice.ListTargetGroupsOutput{{Items: []types.TargetGroupSummary{
			tg("tg-1", "k8s-"+long[:55]+"-yelb-ui-3-abcdefghij", types.TargetGroupStatusActive),
		}}},
		tags: map[string]map[string]string{"arn:tg-1": controllerTags("prod", long, "yelb-ui-3", "HTTPRoute")},
	}
	ids, err := LatticeTargetGroups{API: fake}.TargetGroups(context.Background(), "prod", long, "yelb-ui-3")
	if err != nil || !reflect.DeepEqual(ids, []string{"tg-1"}) {
		t.Errorf("ids = %v, err = %v: names are cut to 55 characters per part", ids, err)
	}
}

func TestLatticeTargetGroupsErrors(t *testing.T) {
	_, err := LatticeTargetGroups{API: &fakeLattice{listErr: errors.New("denied")}}.TargetGroups(context.Background(), "prod", "yelb", "yelb-ui-3")
	if err == nil || err.Error() != "list target groups (page 1): denied" {
		t.Errorf("list error = %v", err)
	}
	fake := &fakeLattice{
		pages:   []*vpclattice.ListTargetGroupsOutput{{Items: []types.TargetGroupSummary{tg("tg-1", "k8s-yelb-yelb-ui-3-x", types.TargetGroupStatusActive)}}},
		tagsErr: errors.New("throttled"),
	}
	_, err = LatticeTargetGroups{API: fake}.TargetGroups(context.Background(), "prod", "yelb", "yelb-ui-3")
	if err == nil || err.Error() != "list tags of target group arn:tg-1: throttled" {
		t.Errorf("tags error = %v", err)
	}
}
