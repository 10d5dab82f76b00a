package cluster

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// vpcCIDR is the cluster VPC's range; subnets are carved from it by zone.
const vpcCIDR = "10.0.0.0/16"

// subnetCIDRs returns, for zone i, a /20 public subnet (load balancers, the
// NAT gateway) and a /18 private subnet (nodes and pods: the VPC CNI gives
// every pod a VPC address, so the private ranges are the large ones).
func subnetCIDRs(zone int) (public, private string, err error) {
	if zone < 0 || zone > 2 {
		return "", "", fmt.Errorf("zone index %d out of range 0-2", zone)
	}
	base := netip.MustParsePrefix(vpcCIDR).Addr().As4()
	pub := base
	pub[2] = byte(zone * 16)
	priv := base
	priv[2] = byte(64 + zone*64)
	return netip.PrefixFrom(netip.AddrFrom4(pub), 20).String(), netip.PrefixFrom(netip.AddrFrom4(priv), 18).String(), nil
}

type network struct {
	vpc            *ec2.Vpc
	publicSubnets  []*ec2.Subnet
	privateSubnets []*ec2.Subnet
	// ready is everything nodes need before they can join: routes to the
	// internet through the NAT gateway (image pulls, the EKS API).
	ready []pulumi.Resource
}

func (n *network) publicIDs() pulumi.StringArray {
	var ids pulumi.StringArray
	for _, s := range n.publicSubnets {
		ids = append(ids, s.ID().ToStringOutput())
	}
	return ids
}

func (n *network) privateIDs() pulumi.StringArray {
	var ids pulumi.StringArray
	for _, s := range n.privateSubnets {
		ids = append(ids, s.ID().ToStringOutput())
	}
	return ids
}

// newNetwork builds the VPC: public and private subnets per zone, an internet
// gateway, one NAT gateway and the route tables. Subnet tags let Kubernetes
// place internet-facing (public) and internal (private) load balancers.
func newNetwork(ctx *pulumi.Context, name, clusterName string, zones []string, tags pulumi.StringMap, parent pulumi.Resource) (*network, error) {
	withName := func(n string) pulumi.StringMap {
		t := pulumi.StringMap{"Name": pulumi.String(n)}
		for k, v := range tags {
			t[k] = v
		}
		return t
	}
	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(vpcCIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               withName(clusterName),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("vpc: %w", err)
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  withName(clusterName),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("internet gateway: %w", err)
	}
	n := &network{vpc: vpc}
	clusterTag := "kubernetes.io/cluster/" + clusterName
	for i, zone := range zones {
		pubCIDR, privCIDR, err := subnetCIDRs(i)
		if err != nil {
			return nil, err
		}
		pubTags := withName(fmt.Sprintf("%s-public-%s", clusterName, zone))
		pubTags["kubernetes.io/role/elb"] = pulumi.String("1")
		pubTags[clusterTag] = pulumi.String("shared")
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			CidrBlock:           pulumi.String(pubCIDR),
			AvailabilityZone:    pulumi.String(zone),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags:                pubTags,
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("public subnet %s: %w", zone, err)
		}
		privTags := withName(fmt.Sprintf("%s-private-%s", clusterName, zone))
		privTags["kubernetes.io/role/internal-elb"] = pulumi.String("1")
		privTags[clusterTag] = pulumi.String("shared")
		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(privCIDR),
			AvailabilityZone: pulumi.String(zone),
			Tags:             privTags,
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("private subnet %s: %w", zone, err)
		}
		n.publicSubnets = append(n.publicSubnets, pub)
		n.privateSubnets = append(n.privateSubnets, priv)
	}

	// One NAT gateway keeps the cost of a dev environment low; a zone outage
	// cuts the nodes' egress until it returns.
	eip, err := ec2.NewEip(ctx, name+"-nat-ip", &ec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   withName(clusterName + "-nat"),
	}, pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{igw}))
	if err != nil {
		return nil, fmt.Errorf("nat address: %w", err)
	}
	nat, err := ec2.NewNatGateway(ctx, name+"-nat", &ec2.NatGatewayArgs{
		AllocationId: eip.ID(),
		SubnetId:     n.publicSubnets[0].ID(),
		Tags:         withName(clusterName),
	}, pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{igw}))
	if err != nil {
		return nil, fmt.Errorf("nat gateway: %w", err)
	}

	publicRT, err := ec2.NewRouteTable(ctx, name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{
			CidrBlock: pulumi.String("0.0.0.0/0"),
			GatewayId: igw.ID(),
		}},
		Tags: withName(clusterName + "-public"),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("public route table: %w", err)
	}
	privateRT, err := ec2.NewRouteTable(ctx, name+"-private-rt", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{
			CidrBlock:    pulumi.String("0.0.0.0/0"),
			NatGatewayId: nat.ID(),
		}},
		Tags: withName(clusterName + "-private"),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("private route table: %w", err)
	}
	n.ready = append(n.ready, nat, publicRT, privateRT)
	for i := range zones {
		pa, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d-rt", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId:     n.publicSubnets[i].ID(),
			RouteTableId: publicRT.ID(),
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("public route association: %w", err)
		}
		pr, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d-rt", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId:     n.privateSubnets[i].ID(),
			RouteTableId: privateRT.ID(),
		}, pulumi.Parent(parent))
		if err != nil {
			return nil, fmt.Errorf("private route association: %w", err)
		}
		n.ready = append(n.ready, pa, pr)
	}
	return n, nil
}
