package engine_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// TestValidateRefusesWebhooksThatReachThePlatform: a webhook may not point
// at the engine's host, its metadata and credentials services or the
// cluster's internals, nor carry credentials; a private address passes only
// inside the environment's allowed CIDRs. A refusal shows no more of the
// URL than scheme://host:port, and Validate touches no cluster.
func TestValidateRefusesWebhooksThatReachThePlatform(t *testing.T) {
	vpc := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd12:3456::/32")}
	tests := []struct {
		name    string
		url     string
		allowed []netip.Prefix
		want    []string // nil: accepted
	}{
		{name: "public name", url: "https://hooks.example.com/canary"},
		{name: "public address", url: "http://203.0.113.10:8080/gate"},
		{name: "private address inside the allowed CIDRs", url: "http://10.20.1.2:8080/gate", allowed: vpc},
		{name: "private IPv6 address inside the allowed CIDRs", url: "http://[fd12:3456::9]/gate", allowed: vpc},
		{name: "private address without an allow-list", url: "http://10.20.1.2:8080/gate/token", want: []string{
			`hooks[0].url: "http://10.20.1.2:8080" is in the private range 10.0.0.0/8, which the allowed CIDRs do not cover`,
			"allow the network with the stack configuration key " + contract.ConfigHookAllowedCIDRs, contract.EnvHookAllowedCIDRs, "--hook-allow"}},
		{name: "private address outside the allowed CIDRs", url: "http://192.168.1.5/gate", allowed: vpc,
			want: []string{`"http://192.168.1.5" is in the private range 192.168.0.0/16`}},
		{name: "carrier-grade NAT address", url: "http://100.64.3.4/gate", want: []string{"is in the private range 100.64.0.0/10"}},
		{name: "instance metadata", url: "http://169.254.169.254/latest/meta-data/iam/security-credentials/", allowed: vpc,
			want: []string{`hooks[0].url: "http://169.254.169.254" is the EC2 instance metadata service`}},
		{name: "instance metadata over IPv6", url: "http://[fd00:ec2::254]/latest/api/token", want: []string{"is the EC2 instance metadata service"}},
		{name: "IPv4-mapped metadata", url: "http://[::ffff:a9fe:a9fe]/latest/meta-data/", want: []string{"is the EC2 instance metadata service"}},
		{name: "ECS credentials", url: "http://169.254.170.2/v2/credentials/secret-id", want: []string{"is the ECS task metadata and credentials endpoint"}},
		{name: "Pod Identity agent", url: "http://169.254.170.23/v1/credentials", want: []string{"is the EKS Pod Identity agent"}},
		{name: "Lambda runtime API", url: "http://localhost:9001/2018-06-01/runtime/invocation/next", want: []string{`"http://localhost:9001" names the host itself`}},
		{name: "loopback", url: "http://127.0.0.1:8080/", allowed: vpc, want: []string{"is a loopback address"}},
		{name: "IPv6 loopback", url: "http://[::1]:8080/", want: []string{"is a loopback address"}},
		{name: "unspecified", url: "http://0.0.0.0/", want: []string{"is the unspecified address"}},
		{name: "API server", url: "https://kubernetes.default.svc/api/v1/secrets", want: []string{`"https://kubernetes.default.svc" is a cluster-internal name`}},
		{name: "cluster Service", url: "http://loadtester.test.svc.cluster.local/gate", want: []string{"is a cluster-internal name", contract.ConfigHookAllowedCIDRs}},
		{name: "credentials", url: "https://deploy:s3cret@hooks.example.com/canary", want: []string{`"https://hooks.example.com" carries credentials (user:password@)`}},
		{name: "port out of range", url: "https://hooks.example.com:65536/canary", want: []string{`"https://hooks.example.com:65536" has port 65536: use a port 1..65535`}},
		{name: "another scheme", url: "ftp://hooks.example.com/canary", want: []string{`"ftp://hooks.example.com" is not an http(s) URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := goodDeploy(contract.RouterGatewayAPI, testTemplate(t, contract.RouterGatewayAPI))
			d["hooks"] = []any{map[string]any{"name": "gate", "point": "pre_traffic", "kind": "http", "url": tt.url}}
			eng := validator(t, template.Policy{})
			eng.HookAllowedCIDRs = tt.allowed
			_, err := eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate refused %s: %v", tt.url, err)
				}
				return
			}
			if engine.ErrorName(err) != statemachine.ErrValidation {
				t.Fatalf("error %v named %s, want %s", err, engine.ErrorName(err), statemachine.ErrValidation)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%v\nlacks %q", err, want)
				}
			}
			for _, secret := range []string{"s3cret", "meta-data", "secret-id", "runtime/invocation", "/token", "v1/secrets"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the refusal shows %q of the URL: %v", secret, err)
				}
			}
		})
	}
}

// gatesHost names the test's webhook servers, which listen on loopback:
// Validate refuses loopback addresses, so deploy.json names them so and
// webhookClient, the harness's HookClient, dials loopback for every host.
const gatesHost = "gates.test"

var webhookClient = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	},
}}
