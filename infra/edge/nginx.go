package edge

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// The proxy's whole configuration; ProxyConfig fills its four values.
//
//go:embed nginx.conf.tmpl
var nginxTemplate string

var (
	nginxConf  = template.Must(template.New("nginx.conf").Option("missingkey=error").Parse(nginxTemplate))
	dnsNameRe  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	resolverRe = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
	listenRe   = regexp.MustCompile(`^([0-9.]+:)?([0-9]{1,5})$`)
)

const (
	// ClusterDNS is the resolver the proxy asks: CoreDNS answers cluster
	// names and forwards the rest (the private hosted zone) to the VPC.
	ClusterDNS = "kube-dns.kube-system.svc.cluster.local"
	// ProxyPort is the unprivileged port nginx listens on, every address.
	ProxyPort = 8080
)

// ProxyConfig are the values of the proxy's nginx configuration.
type ProxyConfig struct {
	Listen       string // [address:]port nginx listens on
	Resolver     string // DNS server nginx asks at request time, host[:port]
	Upstream     string // the one name every request goes to, also its Host
	UpstreamPort int
}

// Render returns nginx.conf. Values are checked first: they are spliced
// into the file, so anything but a plain name or port is refused.
func (c ProxyConfig) Render() (string, error) {
	var problems []string
	if len(c.Upstream) > 253 || !dnsNameRe.MatchString(c.Upstream) {
		problems = append(problems, fmt.Sprintf("upstream %q is not a lower-case DNS name", c.Upstream))
	}
	if !resolverRe.MatchString(c.Resolver) {
		problems = append(problems, fmt.Sprintf("resolver %q is not host[:port]", c.Resolver))
	}
	if m := listenRe.FindStringSubmatch(c.Listen); m == nil || !validPort(m[2]) {
		problems = append(problems, fmt.Sprintf("listen %q is not [address:]port", c.Listen))
	}
	if c.UpstreamPort < 1 || c.UpstreamPort > 65535 {
		problems = append(problems, fmt.Sprintf("upstream port %d is not 1-65535", c.UpstreamPort))
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("proxy configuration: %s", strings.Join(problems, "; "))
	}
	var b strings.Builder
	if err := nginxConf.Execute(&b, c); err != nil {
		return "", fmt.Errorf("proxy configuration: %w", err)
	}
	return b.String(), nil
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}
