package spec

import (
	"errors"
	"strings"
	"testing"
)

func withHooks(hooks ...map[string]any) map[string]any {
	d := original()
	list := make([]any, len(hooks))
	for i, h := range hooks {
		list[i] = h
	}
	d["hooks"] = list
	return d
}

func TestHooksParseWithDefaults(t *testing.T) {
	s, err := Parse(encode(t, withHooks(
		map[string]any{"name": "smoke", "point": "pre_traffic", "kind": "http", "url": "http://loadtester.test/gate"},
		map[string]any{"name": "approve", "point": "confirm_promotion", "kind": "lambda", "function": "arn:aws:lambda:us-west-2:123456789012:function:approve:live"},
		map[string]any{"name": "acceptance", "point": "pre_traffic", "kind": "job", "job": "acceptance", "metadata": map[string]string{"suite": "full"}},
	)))
	if err != nil {
		t.Fatal(err)
	}
	http, lambda, job := s.Hooks[0], s.Hooks[1], s.Hooks[2]
	if http.Timeout != DefaultHTTPTimeout || http.Retries == nil || *http.Retries != DefaultHTTPRetries || http.Hold != 0 {
		t.Errorf("http defaults %+v", http)
	}
	if lambda.Timeout != 0 || lambda.Hold != DefaultHold || !lambda.Gate() {
		t.Errorf("lambda defaults %+v", lambda)
	}
	if job.Timeout != DefaultJobTimeout || job.Metadata["suite"] != "full" {
		t.Errorf("job defaults %+v", job)
	}
	if got := s.HooksAt(HookPreTraffic); len(got) != 2 || got[0].Name != "smoke" || got[1].Name != "acceptance" {
		t.Errorf("pre_traffic hooks %+v", got)
	}
}

func TestBadHooksNameFieldAndFix(t *testing.T) {
	tests := []struct {
		name string
		hook map[string]any
		want []string
	}{
		{"unknown point", map[string]any{"name": "a", "point": "before_traffic", "kind": "http", "url": "http://x.test/"},
			[]string{`hooks[0].point: "before_traffic" is not a known hook point: use "pre_rollout"`}},
		{"missing point", map[string]any{"name": "a", "kind": "http", "url": "http://x.test/"}, []string{"hooks[0].point: is missing"}},
		{"unknown kind", map[string]any{"name": "a", "point": "pre_traffic", "kind": "webhook"},
			[]string{`hooks[0].kind: "webhook" is not a known hook kind: use "lambda", "http" or "job"`}},
		{"missing url", map[string]any{"name": "a", "point": "pre_traffic", "kind": "http"}, []string{"hooks[0].url: is missing: give the webhook's address"}},
		{"not an http url", map[string]any{"name": "a", "point": "pre_traffic", "kind": "http", "url": "ftp://x.test/"}, []string{`hooks[0].url: "ftp://x.test" is not an http(s) URL`}},
		{"missing arn", map[string]any{"name": "a", "point": "pre_traffic", "kind": "lambda"}, []string{"hooks[0].function: is missing: give the Lambda function's ARN"}},
		{"not an arn", map[string]any{"name": "a", "point": "pre_traffic", "kind": "lambda", "function": "approve"},
			[]string{`hooks[0].function: "approve" is not a Lambda function ARN: use arn:aws:lambda:<region>:<account>:function:<name>`}},
		{"missing job", map[string]any{"name": "a", "point": "pre_traffic", "kind": "job"}, []string{"hooks[0].job: is missing: name a Job of kubernetes_template.yml"}},
		{"http timeout out of range", map[string]any{"name": "a", "point": "pre_traffic", "kind": "http", "url": "http://x.test/", "timeout": 61},
			[]string{"hooks[0].timeout: 61 is not allowed: use 1..60 seconds per request"}},
		{"http call too long", map[string]any{"name": "a", "point": "pre_traffic", "kind": "http", "url": "http://x.test/", "timeout": 40, "retries": 2},
			[]string{"hooks[0].timeout: 40 with hooks[0].retries 2 can take 122 s (3 requests of 40 s, 1 s apart): keep one call within 60 s", "lower hooks[0].timeout to at most 19 or hooks[0].retries to at most 0"}},
		{"job timeout out of range", map[string]any{"name": "a", "point": "pre_traffic", "kind": "job", "job": "smoke", "timeout": 90000},
			[]string{"hooks[0].timeout: 90000 is not allowed: use 1..86400 seconds the Job may take to succeed"}},
		{"negative timeout", map[string]any{"name": "a", "point": "pre_traffic", "kind": "job", "job": "smoke", "timeout": -1},
			[]string{"hooks[0].timeout: -1 is not allowed"}},
		{"lambda timeout", map[string]any{"name": "a", "point": "pre_traffic", "kind": "lambda", "function": "arn:aws:lambda:us-west-2:123456789012:function:f", "timeout": 30},
			[]string{`hooks[0].timeout: 30 is not used by kind "lambda": remove timeout and set the function's own timeout`}},
		{"hold outside a confirm point", map[string]any{"name": "a", "point": "pre_traffic", "kind": "job", "job": "smoke", "hold": 60},
			[]string{`hooks[0].hold: 60 is only for points "confirm_traffic" and "confirm_promotion"`}},
		{"hold out of range", map[string]any{"name": "a", "point": "confirm_traffic", "kind": "job", "job": "smoke", "hold": 100000},
			[]string{"hooks[0].hold: 100000 is not allowed: use 1..86400 seconds"}},
		{"misspelt field", map[string]any{"name": "a", "point": "pre_traffic", "kind": "http", "urll": "http://x.test/"},
			[]string{`hooks[0].urll: is not a known field: did you mean "hooks[0].url"?`, "hooks[0].url: is missing"}},
		{"field of another kind", map[string]any{"name": "a", "point": "pre_traffic", "kind": "job", "job": "smoke", "url": "http://x.test/"},
			[]string{`hooks[0].url: "http://x.test" is only for kind "http": remove url or set kind "http"`}},
		{"bad name", map[string]any{"name": "Smoke Tests", "point": "pre_traffic", "kind": "job", "job": "smoke"},
			[]string{`hooks[0].name: "Smoke Tests" is not allowed: use at most 30 lower-case letters`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(encode(t, withHooks(tt.hook)))
			var invalid *ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("Parse = %v, want a ValidationError", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%v\nlacks %q", err, want)
				}
			}
		})
	}
}

func TestDuplicateHookNames(t *testing.T) {
	h := map[string]any{"name": "smoke", "point": "pre_traffic", "kind": "job", "job": "smoke"}
	_, err := Parse(encode(t, withHooks(h, h)))
	if err == nil || !strings.Contains(err.Error(), `hooks[1].name: "smoke" is already used by hooks[0]: give every hook its own name`) {
		t.Errorf("Parse = %v", err)
	}
}

// TestWebhookURLRefusals: addresses that reach the engine's own host, its
// metadata and credentials services or the cluster's internals are refused
// whatever the environment; a refusal shows scheme://host:port at most.
func TestWebhookURLRefusals(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" accepted
	}{
		{"https://hooks.example.com/canary", ""},
		{"http://10.20.0.5:8080/gate", ""}, // private: judged with the environment's allow-list
		{"http://[fd12:3456::1]/gate", ""},
		{"http://169.254.169.254/latest/meta-data/", `hooks[0].url: "http://169.254.169.254" is the EC2 instance metadata service`},
		{"http://[fd00:ec2::254]/latest/api/token", `"http://[fd00:ec2::254]" is the EC2 instance metadata service`},
		{"http://169.254.170.2/v2/credentials/abc", `is the ECS task metadata and credentials endpoint`},
		{"http://169.254.170.23/v1/credentials", `is the EKS Pod Identity agent`},
		{"http://[::ffff:169.254.169.254]/", `is the EC2 instance metadata service`},
		{"http://localhost:9001/2018-06-01/runtime/invocation/next", `hooks[0].url: "http://localhost:9001" names the host itself`},
		{"http://api.localhost./x", `names the host itself`},
		{"http://127.0.0.1:8080/", `is a loopback address`},
		{"http://[::1]/", `is a loopback address`},
		{"http://0.0.0.0:80/", `is the unspecified address`},
		{"http://[::]/", `is the unspecified address`},
		{"http://[fe80::1%25eth0]/", `is link-local`},
		{"https://kubernetes.default.svc/api", `is a cluster-internal name`},
		{"http://loadtester.test.svc.cluster.local/gate", `is a cluster-internal name`},
		{"http://flagger-loadtester.test.svc/", `is a cluster-internal name`},
		{"http://2130706433/", `is a number that resolvers may read as an IP address`},
		{"http://0x7f.1/", `is a number that resolvers may read as an IP address`},
		{"https://deploy:s3cret@hooks.example.com/canary", `hooks[0].url: "https://hooks.example.com" carries credentials (user:password@): remove them`},
		{"https://hooks.example.com:0/x", `"https://hooks.example.com:0" has port 0: use a port 1..65535`},
		{"https://hooks.example.com:70000/x", `has port 70000`},
		{"file:///etc/passwd", `hooks[0].url: is not an http(s) URL`},
		{"gopher://hooks.example.com/x", `"gopher://hooks.example.com" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Parse(encode(t, withHooks(map[string]any{"name": "a", "point": "pre_traffic", "kind": "http", "url": tt.url})))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse refused %s: %v", tt.url, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, want %q", err, tt.want)
			}
			for _, secret := range []string{"s3cret", "meta-data", "credentials/abc", "runtime/invocation", "svc/api"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the refusal shows %q of the URL: %v", secret, err)
				}
			}
		})
	}
}
