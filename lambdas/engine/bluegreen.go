package engine

import (
	"context"
	"fmt"
	"strconv"

	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/rollout"
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// A blue-green rollout (strategy "blue-green") deploys the new version at
// 0% with a preview route that reaches it alone, analyses it there for
// wait_time, switches all traffic to it in one route write, bakes, keeps
// the old version for scale_down_delay, then promotes as a canary does.
// Every route write between Deploy and the end carries the preview; the
// promotion and the roll back write the route without it and delete the
// preview objects, so the preview ends on every path.

// previewer is the router of s as a Previewer.
func (e *Engine) previewer(s spec.Spec) (router.Router, router.Previewer, error) {
	rt, err := e.router(s.Router)
	if err != nil {
		return nil, nil, err
	}
	p, ok := rt.(router.Previewer)
	if !ok {
		return nil, nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf(
			"router %s cannot give a version a preview route: use strategy \"canary\"", s.Router)}
	}
	return rt, p, nil
}

// withPreview replaces the route objects of a blue-green rollout with a
// stable version by the route and its preview of the new version. Other
// rollouts get objs unchanged.
func (e *Engine) withPreview(st *State, objs objects) (objects, error) {
	r := st.Rollout
	if !st.BlueGreen() || r.firstDeployment() {
		return objs, nil
	}
	rt, p, err := e.previewer(st.Spec)
	if err != nil {
		return nil, err
	}
	// The version's own Service port, as the production route's items use.
	rendered, err := e.render(st.Spec, r.Version, nil, nil)
	if err != nil {
		return nil, err
	}
	items, err := rt.Items([]router.Backend{{Name: naming.VersionName(st.Microservice, r.Version), Weight: 100}}, versionPort(rendered))
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("preview of %s version %d: %w", st.Microservice, r.Version, err)}
	}
	out := make(objects, 0, len(objs)+1)
	for _, o := range objs {
		if !o.route {
			out = append(out, o)
			continue
		}
		previewed, err := p.Preview(o.obj, items)
		if err != nil {
			return nil, &Error{Name: statemachine.ErrValidation, Err: err}
		}
		for _, obj := range previewed {
			if obj.GetLabels()[naming.LabelPreview] == "" {
				out = append(out, object{obj: obj, route: true})
				continue
			}
			labels := obj.GetLabels()
			labels[naming.LabelVersion] = strconv.Itoa(r.Version) // a roll back removes it with the version
			obj.SetLabels(labels)
			out = append(out, object{obj: obj, route: true, perVersion: true, preview: true})
		}
		r.Preview = p.PreviewAddress(o.obj)
	}
	return out, nil
}

// versionPort is the port of the version's own Service in a rendering.
func versionPort(objs objects) int {
	for _, o := range objs {
		if o.obj.GetKind() == "Service" && o.perVersion {
			if p, ok := servicePortOf(o); ok {
				return p
			}
		}
	}
	return 0
}

// applyPreviewedRoute writes the route with backends and the preview.
func (e *Engine) applyPreviewedRoute(ctx context.Context, sess *Session, st *State, backends []router.Backend) error {
	objs, err := e.render(st.Spec, st.Rollout.Version, backends, nil)
	if err != nil {
		return err
	}
	routes, err := e.withPreview(st, objs.routes())
	if err != nil {
		return err
	}
	for _, o := range routes {
		if err := writeRoute(ctx, sess, o.obj, routeWrite{execution: st.Rollout.Execution}); err != nil {
			return err
		}
	}
	return nil
}

// endPreview deletes a blue-green rollout's preview objects of their own.
// Previews inside the route object end with the route write before it.
func (e *Engine) endPreview(ctx context.Context, sess *Session, s spec.Spec) error {
	if !s.BlueGreen() {
		return nil
	}
	selector := fmt.Sprintf("%s=%s,%s=%s,%s", naming.LabelManagedBy, naming.ManagedByValue, naming.LabelMicroservice, s.Microservice, naming.LabelPreview)
	if err := deleteByLabels(ctx, sess, s.Namespace, selector); err != nil {
		return fmt.Errorf("remove the preview of %s: %w", s.Microservice, err)
	}
	return nil
}

// checkPreview proves at Validate that the template's routes can carry a
// preview, so a blue-green rollout the router cannot preview writes nothing.
func (e *Engine) checkPreview(s spec.Spec, objs objects) error {
	if !s.BlueGreen() {
		return nil
	}
	probe := &State{Spec: s, Rollout: &Rollout{Versions: Versions{Version: 2, StableVersion: 1}}}
	if _, err := e.withPreview(probe, objs); err != nil {
		return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("kubernetes_template.yml cannot be rolled out with strategy blue-green: %w", err)}
	}
	return nil
}

// blueGreenStatus is the stage of a running blue-green rollout with a
// stable version, nil for every other.
func (e *Engine) blueGreenStatus(st *State, phase string) *status.BlueGreen {
	r := st.Rollout
	if !st.BlueGreen() || r.firstDeployment() || status.Terminal(phase) {
		return nil
	}
	stage, until := rollout.BlueGreenStage(rollout.StageInput{
		Policy:         rollout.PolicyFromSpec(st.Spec),
		Weight:         r.Weight,
		AnalysedAtFull: len(r.Verdicts) > 0 && r.Verdicts[0].Weight >= 100,
		BakeStartedAt:  r.BakeStartedAt,
		Now:            e.now(),
	})
	out := &status.BlueGreen{Stage: stage, Preview: r.Preview}
	if !until.IsZero() {
		until = e.shown(until)
		out.OldKeptUntil = &until
	}
	return out
}
