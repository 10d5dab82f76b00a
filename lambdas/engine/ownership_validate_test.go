package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

const pipelineExecution = "arn:aws:states:us-west-2:123456789012:execution:canary:shop-1624a1d1-3699-43f0-8e1e-6bafd7fde791"

// TestValidateKeepsTemplatesToTheirMicroservice: a template names only its
// own microservice's objects, never one of the engine's own, and sets none
// of the engine's labels. Validate runs without a cluster, so nothing is
// written.
func TestValidateKeepsTemplatesToTheirMicroservice(t *testing.T) {
	configMap := func(name, labels string) func(*testing.T, string) string {
		return appendDoc("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" + labels + "data: {phase: Progressing}\n")
	}
	cases := []struct {
		name, router string
		tmpl         func(*testing.T, string) string
		want         string // "" when Validate accepts it
	}{
		{"another microservice's status", contract.RouterGatewayAPI, configMap("cart-rollout", ""), `ConfigMap/cart-rollout: metadata.name "cart-rollout" is not a name of microservice "shop"`},
		{"its own status", contract.RouterGatewayAPI, configMap("shop-rollout", ""), `ConfigMap/shop-rollout: metadata.name "shop-rollout" is refused: names ending in "-rollout" are the engine's own, for rollout status`},
		{"a status of a microservice sharing the prefix", contract.RouterAppMesh, configMap("shop-api-rollout", ""), `names ending in "-rollout" are the engine's own`},
		{"a lock", contract.RouterGatewayAPI, configMap("shop-rollout-lock", ""), `names ending in "-rollout-lock" are the engine's own, for rollout locks`},
		{"a preview route", contract.RouterGatewayAPI, func(t *testing.T, s string) string {
			return edit(t, s, "kind: HTTPRoute\nmetadata:\n  name: ${MICROSERVICE_NAME}\n", "kind: HTTPRoute\nmetadata:\n  name: ${MICROSERVICE_NAME}-preview\n")
		}, `HTTPRoute/shop-preview: metadata.name "shop-preview" is refused: names ending in "-preview" are the engine's own, for blue-green preview routes`},
		{"another microservice's Deployment", contract.RouterAppMesh, func(t *testing.T, s string) string {
			return edit(t, s, "kind: Deployment\nmetadata:\n  name: ${MICROSERVICE_NAME}-${CANARY_VERSION}\n", "kind: Deployment\nmetadata:\n  name: cart-${CANARY_VERSION}\n")
		}, `Deployment/cart-1: metadata.name "cart-1" is not a name of microservice "shop"`},
		{"another microservice's route", contract.RouterGatewayAPI, func(t *testing.T, s string) string {
			return edit(t, s, "kind: HTTPRoute\nmetadata:\n  name: ${MICROSERVICE_NAME}\n", "kind: HTTPRoute\nmetadata:\n  name: cart\n")
		}, `HTTPRoute/cart: metadata.name "cart" is not a name of microservice "shop"`},
		{"the engine's microservice label", contract.RouterGatewayAPI, configMap("shop-config", "  labels: {canary.eks-canary.dev/microservice: cart}\n"),
			`ConfigMap/shop-config: metadata.labels "canary.eks-canary.dev/microservice" is refused: the engine sets its own labels`},
		{"the engine's version label on a shared object", contract.RouterGatewayAPI, configMap("shop-config", "  labels: {canary.eks-canary.dev/version: \"1\"}\n"),
			`metadata.labels "canary.eks-canary.dev/version" is refused`},
		{"the engine's status label", contract.RouterAppMesh, configMap("shop-config", "  labels: {canary.eks-canary.dev/status: \"true\"}\n"),
			`metadata.labels "canary.eks-canary.dev/status" is refused`},
		{"another manager", contract.RouterGatewayAPI, configMap("shop-config", "  labels: {app.kubernetes.io/managed-by: Helm}\n"),
			`metadata.labels "app.kubernetes.io/managed-by" is refused`},
		{"a ConfigMap of its own", contract.RouterGatewayAPI, configMap("shop-config", "  labels: {app: shop}\n"), ""},
		{"a dotted name of its own", contract.RouterAppMesh, configMap("shop.settings", ""), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := goodDeploy(c.router, c.tmpl(t, testTemplate(t, c.router)))
			_, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: pipelineExecution, State: marshal(t, d)})
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate refused it: %v", err)
				}
				return
			}
			if err == nil || engine.ErrorName(err) != statemachine.ErrValidation || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v (%s), want %s with %q", err, engine.ErrorName(err), statemachine.ErrValidation, c.want)
			}
		})
	}
}

// TestValidateTiesTheRolloutToItsPipeline: a push controls the build and so
// deploy.json, but not the execution's name, which the microservice's
// pipeline gives ("<microservice>-<action execution id>").
func TestValidateTiesTheRolloutToItsPipeline(t *testing.T) {
	const arn = "arn:aws:states:us-west-2:123456789012:execution:canary:"
	const id = "-1624a1d1-3699-43f0-8e1e-6bafd7fde791"
	cases := []struct {
		name, execution, microservice string
		ok                            bool
	}{
		{"its own pipeline", arn + "shop" + id, "shop", true},
		{"a microservice with dashes", arn + "shop-api" + id, "shop-api", true},
		{"another microservice's pipeline", arn + "cart" + id, "shop", false},
		{"a microservice sharing the prefix", arn + "shop-api" + id, "shop", false},
		{"a prefix of the microservice", arn + "shop" + id, "shop-api", false},
		{"started by hand without the pipeline's name", arn + "a5e0d7c2-8b71-4f3e-9d2a-6c1b0f4e8a37", "shop", false},
		{"the microservice without an execution id", arn + "shop", "shop", false},
		{"an id that is not the pipeline's", arn + "shop-release-42", "shop", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := goodDeploy(contract.RouterGatewayAPI, testTemplate(t, contract.RouterGatewayAPI))
			d["microservice_name"] = c.microservice
			eng := validator(t, template.Policy{})
			eng.PipelineExecutions = true
			_, err := eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: c.execution, State: marshal(t, d)})
			if c.ok {
				if err != nil {
					t.Fatalf("Validate refused it: %v", err)
				}
				return
			}
			want := "did not come from the pipeline of microservice \"" + c.microservice + "\""
			if err == nil || engine.ErrorName(err) != statemachine.ErrValidation || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("error %v, want %s with %q", err, statemachine.ErrValidation, want)
			}
		})
	}
}
