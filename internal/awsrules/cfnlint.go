package awsrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/eks-canary/platform/infra/policy"
)

// CfnLintInstall is what to run where cfn-lint is missing.
const CfnLintInstall = "pip install cfn-lint"

// cfnLint returns the cfn-lint executable or an error with the install command.
func cfnLint() (string, error) {
	path, err := exec.LookPath("cfn-lint")
	if err != nil {
		return "", fmt.Errorf("cfn-lint is not on PATH: install it with `%s` (Python 3.9+)", CfnLintInstall)
	}
	return path, nil
}

type lintTarget struct {
	res      policy.Resource
	template map[string]any
	// ids maps a template resource id back to what it came from.
	ids map[string]string
}

// IAMTemplate wraps every IAM trust, permission and bucket policy document
// of resources in one CloudFormation template (roles, managed and bucket policies), so cfn-lint's IAM
// rules check their actions, condition keys and ARNs. ids maps the template's
// logical ids to "<type> <name>".
func IAMTemplate(resources []policy.Resource) (template map[string]any, ids map[string]string) {
	res := map[string]any{}
	ids = map[string]string{}
	n := 0
	add := func(r policy.Resource, cfnType string, props map[string]any) {
		id := fmt.Sprintf("Doc%03d", n)
		n++
		res[id] = map[string]any{"Type": cfnType, "Properties": props}
		ids[id] = r.Type + " " + fmt.Sprintf("%q", r.Name)
	}
	doc := func(v any) (any, bool) {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, false
		}
		var d any
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return s, true // cfn-lint reports it
		}
		return d, true
	}
	for _, r := range resources {
		switch r.Type {
		case "aws:iam/role:Role":
			if d, ok := doc(r.Inputs["assumeRolePolicy"]); ok {
				add(r, "AWS::IAM::Role", map[string]any{"AssumeRolePolicyDocument": d})
			}
		case "aws:s3/bucketPolicy:BucketPolicy":
			if d, ok := doc(r.Inputs["policy"]); ok {
				add(r, "AWS::S3::BucketPolicy", map[string]any{"Bucket": fmt.Sprintf("bucket-%03d", n), "PolicyDocument": d})
			}
		case "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy":
			if d, ok := doc(r.Inputs["policy"]); ok {
				add(r, "AWS::IAM::ManagedPolicy", map[string]any{"PolicyDocument": d})
			}
		}
	}
	return map[string]any{"AWSTemplateFormatVersion": "2010-09-09", "Resources": res}, ids
}

// LintIAM runs cfn-lint over every IAM document of resources and over each
// CloudFormation stack's template body, and returns its findings with the
// resource each belongs to.
func LintIAM(resources []policy.Resource) ([]Finding, error) {
	bin, err := cfnLint()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cfnlint-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var targets []lintTarget
	tmpl, ids := IAMTemplate(resources)
	if len(ids) > 0 {
		targets = append(targets, lintTarget{template: tmpl, ids: ids})
	}
	for _, r := range resources {
		if r.Type != "aws:cloudformation/stack:Stack" {
			continue
		}
		var t map[string]any
		body, _ := r.Inputs["templateBody"].(string)
		if err := json.Unmarshal([]byte(body), &t); err != nil {
			return nil, fmt.Errorf("%s %q: templateBody is not JSON: %w", r.Type, r.Name, err)
		}
		targets = append(targets, lintTarget{res: r, template: t})
	}
	var files []string
	byFile := map[string]lintTarget{}
	for i, t := range targets {
		b, err := json.MarshalIndent(t.template, "", " ")
		if err != nil {
			return nil, err
		}
		f := filepath.Join(dir, fmt.Sprintf("t%03d.json", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
		byFile[f] = t
	}
	if len(files) == 0 {
		return nil, nil
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--format", "json", "--"}, files...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, fmt.Errorf("run cfn-lint: %w", err)
	}
	var matches []struct {
		Filename string `json:"Filename"`
		Level    string `json:"Level"`
		Message  string `json:"Message"`
		Rule     struct {
			Id string `json:"Id"`
		} `json:"Rule"`
		Location struct {
			Path []any `json:"Path"`
		} `json:"Location"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &matches); err != nil {
		return nil, fmt.Errorf("cfn-lint output is not JSON (%v): %s %s", err, stdout.String(), stderr.String())
	}
	var out []Finding
	for _, m := range matches {
		t := byFile[m.Filename]
		typ, name := t.res.Type, t.res.Name
		path := make([]string, len(m.Location.Path))
		for i, p := range m.Location.Path {
			path[i] = fmt.Sprint(p)
		}
		if t.ids != nil && len(path) > 1 {
			if src, ok := t.ids[path[1]]; ok {
				typ, name, _ = strings.Cut(src, " ")
				name = strings.Trim(name, `"`)
			}
		}
		msg := m.Message
		// Enum rules list every valid value (hundreds of IAM actions).
		if i := strings.Index(msg, " is not one of ["); i >= 0 {
			msg = msg[:i] + " is not one of the valid values"
		}
		out = append(out, Finding{Type: typ, Name: name, Field: strings.Join(path, "/"),
			Message: fmt.Sprintf("cfn-lint %s %s: %s", m.Level, m.Rule.Id, msg)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
