package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
)

func TestHookAllowedCIDRs(t *testing.T) {
	tests := []struct {
		value string
		want  []string // the CIDRs read; nil with fragments of the error in errs
		errs  []string
	}{
		{value: "", want: nil},
		{value: `["10.20.0.0/16", " fd12:3456::/32 "]`, want: []string{"10.20.0.0/16", "fd12:3456::/32"}},
		{value: `["::ffff:10.20.0.0/112"]`, want: []string{"10.20.0.0/16"}},
		{value: `10.20.0.0/16`, errs: []string{contract.ConfigHookAllowedCIDRs, `"10.20.0.0/16" is not valid`, `a list of private networks as CIDRs, e.g. ["10.20.0.0/16"]`}},
		{value: `["127.0.0.0/8"]`, errs: []string{contract.ConfigHookAllowedCIDRs, `covers 127.0.0.0/8, which webhooks may never reach`}},
		{value: `["169.254.0.0/16"]`, errs: []string{`covers 169.254.0.0/16`}},
		{value: `["10.0.0.0/8", "0.0.0.0/0"]`, errs: []string{`"0.0.0.0/0" covers 0.0.0.0/8`}},
		{value: `["fd00:ec2::/32"]`, errs: []string{`covers fd00:ec2::254/128`}},
		{value: `["10.20.0.1/16"]`, errs: []string{`has host bits set: write 10.20.0.0/16`}},
		{value: `["10.20.0.0"]`, errs: []string{`"10.20.0.0" is not a CIDR`}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := Load("dev", lookup(map[string]string{KeyRegion: "us-west-2", KeyHookAllowedCIDRs: tt.value}))
			if tt.errs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(c.HookAllowedCIDRs, tt.want) {
					t.Errorf("HookAllowedCIDRs = %v, want %v", c.HookAllowedCIDRs, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %s as %v", tt.value, c.HookAllowedCIDRs)
			}
			for _, w := range tt.errs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
