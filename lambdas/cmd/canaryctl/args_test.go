package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		want    invocation
		wantErr string
	}{
		{name: "status", args: "status", want: invocation{command: "status"}},
		{name: "flags before and after", args: "--kubeconfig k.yaml -n yelb watch yelb-appserver --context dev --next --timeout 5m",
			want: invocation{command: "watch", name: "yelb-appserver", kubeconfig: "k.yaml", namespace: "yelb", context: "dev", next: true, timeout: 5 * time.Minute}},
		{name: "long namespace with equals", args: "abort yelb-ui --namespace=shop", want: invocation{command: "abort", name: "yelb-ui", namespace: "shop"}},
		{name: "recover", args: "recover yelb-ui -n yelb", want: invocation{command: "recover", name: "yelb-ui", namespace: "yelb"}},
		{name: "recover every namespace", args: "recover yelb-ui -A", wantErr: "flag -A does not apply to recover"},
		{name: "all namespaces", args: "status -A", want: invocation{command: "status", allNamespaces: true}},
		{name: "help", args: "help", wantErr: flag.ErrHelp.Error()},
		{name: "dash h", args: "-h", wantErr: flag.ErrHelp.Error()},
		{name: "nothing", args: "", wantErr: "no command given"},
		{name: "unknown command", args: "rollback yelb-ui", wantErr: `unknown command "rollback"; want one of status, watch`},
		{name: "missing name", args: "promote", wantErr: "promote needs the microservice name: canaryctl promote NAME"},
		{name: "two names", args: "pause a b", wantErr: "pause takes one microservice name, got 2: a b"},
		{name: "status with a name", args: "status yelb-ui", wantErr: `status takes no microservice name, got "yelb-ui"`},
		{name: "flag of another command", args: "abort yelb-ui --next", wantErr: "flag -next does not apply to abort"},
		{name: "all namespaces on watch", args: "watch yelb-ui -A", wantErr: "flag -A does not apply to watch"},
		{name: "negative timeout", args: "watch yelb-ui --timeout -1s", wantErr: "flag --timeout is -1s"},
		{name: "bad timeout", args: "watch yelb-ui --timeout soon", wantErr: `invalid value "soon" for flag -timeout`},
		{name: "unknown flag", args: "status --wide", wantErr: "flag provided but not defined: -wide"},
		{name: "n and A", args: "status -A -n yelb", wantErr: "flags -n and -A exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(strings.Fields(tt.args))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.wantErr == flag.ErrHelp.Error() && !errors.Is(err, flag.ErrHelp) {
					t.Fatalf("error %v is not flag.ErrHelp", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
