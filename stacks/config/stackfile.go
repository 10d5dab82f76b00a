package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"
)

// FromContext reads stack configuration: "aws:region" as is, every other
// key in the project's namespace.
func FromContext(ctx *pulumi.Context) Lookup {
	return func(key string) (string, bool) { return ctx.GetConfig(FullKey(ctx.Project(), key)) }
}

// FullKey is key as Pulumi stores it: a key without a namespace
// ("nodeCount") in the project's, one with a namespace ("aws:region") as is.
func FullKey(project, key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return project + ":" + key
}

// ReadStackFile reads the project name from Pulumi.yaml and the configuration
// of one stack from Pulumi.<stack>.yaml in dir, as Pulumi hands it to the
// program: strings as they are, lists and objects as JSON. Encrypted values
// cannot be read offline and are left out (their keys are returned).
func ReadStackFile(dir, stack string) (project string, cfg map[string]string, secrets []string, err error) {
	var proj struct {
		Name string `json:"name"`
	}
	if err := readYAML(filepath.Join(dir, "Pulumi.yaml"), &proj); err != nil {
		return "", nil, nil, err
	}
	if proj.Name == "" {
		return "", nil, nil, fmt.Errorf("%s: no project name", filepath.Join(dir, "Pulumi.yaml"))
	}
	var st struct {
		Config map[string]any `json:"config"`
	}
	file := filepath.Join(dir, "Pulumi."+stack+".yaml")
	if err := readYAML(file, &st); err != nil {
		return "", nil, nil, err
	}
	cfg = map[string]string{}
	for k, v := range st.Config {
		k = FullKey(proj.Name, k)
		if obj, ok := v.(map[string]any); ok {
			if _, secure := obj["secure"]; secure {
				secrets = append(secrets, k)
				continue
			}
		}
		s, err := configString(v)
		if err != nil {
			return "", nil, nil, fmt.Errorf("%s: %s: %w", file, k, err)
		}
		cfg[k] = s
	}
	sort.Strings(secrets)
	return proj.Name, cfg, secrets, nil
}

// configString is a configuration value as Pulumi hands it to the program:
// strings as they are, lists and objects as JSON.
func configString(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case nil:
		return "", nil
	case map[string]any, []any:
		b, err := json.Marshal(t)
		return string(b), err
	}
	return fmt.Sprint(v), nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
