package cloudwatch

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// Tags the AWS Gateway API Controller puts on the target groups it creates
// (application-networking.k8s.aws/<key>).
const (
	tagBase             = "application-networking.k8s.aws/"
	TagClusterName      = tagBase + "K8SClusterName"
	TagServiceName      = tagBase + "ServiceName"
	TagServiceNamespace = tagBase + "ServiceNamespace"
	TagSourceType       = tagBase + "SourceTypeKey"

	// The controller names target groups "k8s-<namespace>-<service>-<random>",
	// each part cut to 55 characters; the prefix narrows the tag look-ups
	// to plausible candidates.
	nameLimit = 55
)

// LatticeAPI is the read-only part of the VPC Lattice API the finder uses;
// *vpclattice.Client implements it.
type LatticeAPI interface {
	ListTargetGroups(ctx context.Context, in *vpclattice.ListTargetGroupsInput, opts ...func(*vpclattice.Options)) (*vpclattice.ListTargetGroupsOutput, error)
	ListTagsForResource(ctx context.Context, in *vpclattice.ListTagsForResourceInput, opts ...func(*vpclattice.Options)) (*vpclattice.ListTagsForResourceOutput, error)
}

// LatticeTargetGroups finds target groups by the controller's tags.
type LatticeTargetGroups struct {
	API LatticeAPI
}

// TargetGroups returns the IDs of the live target groups the controller
// created for Service namespace/service in the cluster from a route (not a
// ServiceExport, whose traffic does not pass the route's weights).
func (l LatticeTargetGroups) TargetGroups(ctx context.Context, cluster, namespace, service string) ([]string, error) {
	prefix := fmt.Sprintf("k8s-%s-%s-", cut(namespace), cut(service))
	in := &vpclattice.ListTargetGroupsInput{}
	var ids []string
	for page := 1; ; page++ {
		resp, err := l.API.ListTargetGroups(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list target groups (page %d): %w", page, err)
		}
		for _, tg := range resp.Items {
			if !strings.HasPrefix(aws.ToString(tg.Name), prefix) || deleting(tg.Status) {
				continue
			}
			tags, err := l.API.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: tg.Arn})
			if err != nil {
				return nil, fmt.Errorf("list tags of target group %s: %w", aws.ToString(tg.Arn), err)
			}
			if matches(tags.Tags, cluster, namespace, service) {
				ids = append(ids, aws.ToString(tg.Id))
			}
		}
		if aws.ToString(resp.NextToken) == "" {
			return ids, nil
		}
		in.NextToken = resp.NextToken
	}
}

func matches(tags map[string]string, cluster, namespace, service string) bool {
	if tags[TagServiceName] != service || tags[TagServiceNamespace] != namespace {
		return false
	}
	if c, ok := tags[TagClusterName]; ok && cluster != "" && c != cluster {
		return false
	}
	switch tags[TagSourceType] {
	case "", "HTTPRoute", "GRPCRoute":
		return true
	default:
		return false
	}
}

func deleting(s types.TargetGroupStatus) bool {
	return s == types.TargetGroupStatusDeleteInProgress || s == types.TargetGroupStatusDeleteFailed
}

func cut(s string) string {
	if len(s) > nameLimit {
		return s[:nameLimit]
	}
	return s
}
