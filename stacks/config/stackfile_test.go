package config

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestConfigString(t *testing.T) {
	cases := []struct {
		name    string
		value   any
		want    string
		wantErr bool
	}{
		{"string as it is", "m7g.large", "m7g.large", false},
		{"empty value", nil, "", false},
		{"list as JSON", []any{"yelb-ui", "yelb-appserver"}, `["yelb-ui","yelb-appserver"]`, false},
		{"object as JSON", map[string]any{"b": 2.0, "a": "x"}, `{"a":"x","b":2}`, false},
		{"number", 3.0, "3", false},
		{"boolean", true, "true", false},
		{"object that is not JSON", map[string]any{"f": func() {}}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := configString(c.value)
			if (err != nil) != c.wantErr {
				t.Fatalf("configString(%v) error = %v, want error %v", c.value, err, c.wantErr)
			}
			if !c.wantErr && got != c.want {
				t.Errorf("configString(%v) = %q, want %q", c.value, got, c.want)
			}
		})
	}
}

func TestReadStackFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Pulumi.yaml", "name: eks-canary\nruntime: go\n")
	write("Pulumi.dev.yaml", `config:
  aws:region: eu-west-1
  nodeInstanceType: m7g.large
  nodeCount: 3
  microservices: [yelb-ui, yelb-appserver]
  alarms: {errorRate: 0.05}
  dbPassword: {secure: AAABAC}
  apiToken: {secure: AAABAD}
  note:
`)
	project, cfg, secrets, err := ReadStackFile(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if project != "eks-canary" {
		t.Errorf("project = %q, want eks-canary", project)
	}
	want := map[string]string{
		"aws:region":                  "eu-west-1",
		"eks-canary:nodeInstanceType": "m7g.large",
		"eks-canary:nodeCount":        "3",
		"eks-canary:microservices":    `["yelb-ui","yelb-appserver"]`,
		"eks-canary:alarms":           `{"errorRate":0.05}`,
		"eks-canary:note":             "",
	}
	if !maps.Equal(cfg, want) {
		t.Errorf("config = %v, want %v", cfg, want)
	}
	if !slices.Equal(secrets, []string{"eks-canary:apiToken", "eks-canary:dbPassword"}) {
		t.Errorf("secrets = %v, want the two encrypted keys, sorted", secrets)
	}
	if _, _, _, err := ReadStackFile(dir, "prod"); err == nil {
		t.Error("a stack without its Pulumi.<stack>.yaml is read without error")
	}
}

func TestFullKey(t *testing.T) {
	for key, want := range map[string]string{
		"nodeCount":            "eks-canary:nodeCount",
		"aws:region":           "aws:region",
		"eks-canary:namespace": "eks-canary:namespace",
	} {
		if got := FullKey("eks-canary", key); got != want {
			t.Errorf("FullKey(eks-canary, %q) = %q, want %q", key, got, want)
		}
	}
}
