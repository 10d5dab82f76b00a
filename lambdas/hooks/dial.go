package hooks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
)

// Addresses no webhook may reach, whatever the environment allows: the
// host's own services and the credentials they hand out. A deploy.json is
// written by an application team; the engine runs with the platform's role.
var (
	metadataAddresses = map[netip.Addr]string{
		netip.MustParseAddr("169.254.169.254"): "the EC2 instance metadata service",
		netip.MustParseAddr("fd00:ec2::254"):   "the EC2 instance metadata service",
		netip.MustParseAddr("169.254.170.2"):   "the ECS task metadata and credentials endpoint",
		netip.MustParseAddr("169.254.170.23"):  "the EKS Pod Identity agent",
		netip.MustParseAddr("fd00:ec2::23"):    "the EKS Pod Identity agent",
	}
	// neverAllowed are the ranges an allow-list may not overlap.
	neverAllowed = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("::/128"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("fd00:ec2::254/128"),
		netip.MustParsePrefix("fd00:ec2::23/128"),
	}
	// privateRanges are reached only through the allow-list: the VPC, a
	// peered network, the cluster's pods and Services.
	privateRanges = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	}
)

// PrivateRanges are the ranges an allow-list can open. Passed as allowed
// to AddressProblem, they leave only the refusals no environment lifts.
func PrivateRanges() []netip.Prefix { return slices.Clone(privateRanges) }

// AddressProblem reports why a webhook may not connect to ip, or "" when
// it may. Loopback, link-local, unspecified, multicast and metadata
// addresses are always refused; a private address only outside allowed.
// An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
// Validate applies it to literal addresses and the dialer to every address
// it connects to.
func AddressProblem(ip netip.Addr, allowed []netip.Prefix) string {
	ip = ip.Unmap().WithZone("")
	// NAT64 and 6to4 addresses reach the IPv4 address they carry.
	if v4, how, ok := embeddedIPv4(ip); ok {
		if why := AddressProblem(v4, allowed); why != "" {
			return fmt.Sprintf("carries %s (%s), which %s", v4, how, why)
		}
		return ""
	}
	if what, ok := metadataAddresses[ip]; ok {
		return "is " + what
	}
	switch {
	case !ip.IsValid():
		return "is not an IP address"
	case ip.IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0):
		return "is the unspecified address: it reaches the host itself"
	case ip.IsLoopback():
		return "is a loopback address: it reaches the host itself (the Lambda runtime API, a runner's own services)"
	case ip.IsLinkLocalUnicast():
		return "is link-local (169.254.0.0/16, fe80::/10): it reaches the host's metadata and credentials services"
	case ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "is not a unicast address"
	}
	for _, p := range privateRanges {
		if !p.Contains(ip) {
			continue
		}
		for _, a := range allowed {
			if a.Contains(ip) {
				return ""
			}
		}
		return "is in the private range " + p.String() + ", which the allowed CIDRs do not cover"
	}
	return ""
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 is the IPv4 address a NAT64 (RFC 6052 well-known prefix) or
// 6to4 (RFC 3056) address sends traffic to.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, "", false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), "NAT64", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "6to4", true
	}
	return netip.Addr{}, "", false
}

// ParseCIDRs reads an allow-list of private networks webhooks may reach:
// CIDRs separated by commas (contract.EnvHookAllowedCIDRs, canary-run's
// --hook-allow). A CIDR that overlaps an address no webhook may reach, or
// has host bits set, is refused, so the list cannot open the host itself.
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if why := cidrProblem(item); why != "" {
			bad = append(bad, fmt.Sprintf("%q %s", item, why))
			continue
		}
		out = append(out, unmapPrefix(netip.MustParsePrefix(item)))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("allowed webhook CIDRs: %s: list private networks such as 10.20.0.0/16 or fd12:3456::/48; loopback, link-local, unspecified and metadata addresses are never allowed",
			strings.Join(bad, "; "))
	}
	return out, nil
}

func cidrProblem(item string) string {
	p, err := netip.ParsePrefix(item)
	if err != nil {
		return "is not a CIDR (address/bits)"
	}
	if p != p.Masked() {
		return "has host bits set: write " + p.Masked().String()
	}
	p = unmapPrefix(p)
	for _, never := range neverAllowed {
		if p.Overlaps(never) {
			return "covers " + never.String() + ", which webhooks may never reach"
		}
	}
	return ""
}

// unmapPrefix writes ::ffff:10.0.0.0/104 as 10.0.0.0/8, so that it matches
// the unmapped addresses AddressProblem compares.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// RefusedError is a connection the dialer did not open.
type RefusedError struct {
	Addr   netip.Addr
	Reason string // AddressProblem's
}

func (e *RefusedError) Error() string {
	fix := ""
	if strings.Contains(e.Reason, "private range") {
		fix = fmt.Sprintf(": allow the network with the stack configuration key %s (canary-run: --hook-allow)", contract.ConfigHookAllowedCIDRs)
	}
	return fmt.Sprintf("webhooks may not connect to %s: it %s%s", e.Addr, e.Reason, fix)
}

// Client is the HTTP client for webhooks. It judges every address it
// connects to after DNS resolution (a name that resolves, or later
// rebinds, to a refused address is refused), follows no redirect, and
// ignores proxy settings of the environment. resolver nil is the
// system's.
func Client(allowed []netip.Prefix, resolver *net.Resolver) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer(allowed, resolver).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          10,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: noRedirects,
	}
}

// dialer checks the address in Control, which runs after resolution and
// before connect: nothing is sent to a refused address.
func dialer(allowed []netip.Prefix, resolver *net.Resolver) *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  resolver,
		ControlContext: func(_ context.Context, network, address string, _ syscall.RawConn) error {
			if network != "tcp4" && network != "tcp6" {
				return fmt.Errorf("webhooks connect over TCP only, not %s", network)
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("read the address being dialled: %w", err)
			}
			if why := AddressProblem(ap.Addr(), allowed); why != "" {
				return &RefusedError{Addr: ap.Addr().WithZone(""), Reason: why}
			}
			return nil
		},
	}
}

// noRedirects hands a 3xx back as the answer: a redirect would send the
// payload to an address Validate never saw.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RedactURL is what may be shown of a hook URL: scheme://host[:port].
// Credentials, paths (Slack-style token paths), queries and fragments stay
// out of results, the status, notices and logs. A URL that does not parse
// shows as "".
func RedactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
