package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/lambdas/analysis/synthetic"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/status"
)

// chromium finds Debian's Chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
		return "/usr/lib/chromium/chromium"
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found; run scripts/install-test-deps.sh (Debian packages chromium and chromium-driver) or set CHROMIUM_BIN")
	}
	return p
}

// browser starts headless Chromium with a fresh profile and collects the
// page's errors (exceptions and console, network or CSP errors).
func browser(t *testing.T, options ...chromedp.ExecAllocatorOption) (context.Context, func() []string) {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}, options...)...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, string(e.Entry.Source)+": "+e.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable log events: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable runtime events: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return problems
	}
}

// tab runs browser steps with a bound on each.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// do runs steps; on failure it shows what the page said.
func (p tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 4*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		p.t.Fatalf("%s: %v\nthe page says:\n%s", what, err, text)
	}
}

func eval[T any](p tab, what, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// until waits for a JavaScript expression to be true. The engine's steps
// take real seconds, longer on a loaded machine.
func until(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(3*time.Minute))(ctx, t)
		if err != nil {
			err = fmt.Errorf("waiting for %s: %w", expr, err)
		}
		return chromedp.Void{}, err
	}
}

// untilLanded is until for a tab that is navigating to another site: it
// asks again while the old page's script context is gone.
func untilLanded(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			_, err := until(expr)(ctx, t)
			if err == nil || !strings.Contains(err.Error(), "Cannot find context") {
				return chromedp.Void{}, err
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, err
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// ask clicks an action button and waits for the confirmation dialog.
func ask(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(click(sel), until(`document.querySelector('#confirm').open`))
}

// localEngine runs rollouts in namespace ns in-process with synthetic
// metrics, as canary-run does for `make demo`.
func localEngine(s space, speed float64) *engine.Local {
	speedup := &engine.Speedup{From: time.Now(), Factor: speed}
	cfg := rest.CopyConfig(s.Config)
	eng := &engine.Engine{
		Connector:     &engine.RESTConnector{Source: func(context.Context, string) (*rest.Config, error) { return cfg, nil }},
		Routers:       routers.All(),
		Metrics:       &synthetic.Provider{Mode: synthetic.Healthy, RequestsPerMin: 120, Pace: speed},
		Log:           slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Speedup:       speedup,
		ServiceDomain: "canary.test",
	}
	return &engine.Local{Engine: eng, Sleep: speedup.Sleep}
}

// deployJSON is deploy.json with nine steps; manual holds the canary at 90%
// until an operator promotes or aborts it.
func deployJSON(t *testing.T, ns, svc, image string, manual bool) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("../../engine/testdata/appmesh.yml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(map[string]any{
		"cluster_name": "local", "kubernetes_namespace": ns, "microservice_name": svc,
		"container_image": image, "config_file": base64.StdEncoding.EncodeToString(tmpl), "router": contract.RouterAppMesh,
		"percentage_step": 10, "wait_time": 30, "failure_threshold_value": 0, "failure_threshold_time": 60,
		"steps": []int{10, 20, 30, 40, 50, 60, 70, 80, 90}, "bake_time": 30,
		"analysis":         map[string]any{"interval": 30, "min_success_rate": 99, "min_request_count": 20, "baseline_comparison": true},
		"manual_promotion": manual,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestDashboardInChromium follows a real rollout in the browser: the weight
// advances and the plots grow as the engine writes its status, a refused
// action shows canaryctl's message, and an abort clicked in the page rolls
// the rollout back.
func TestDashboardInChromium(t *testing.T) {
	const svc = "shop"
	s := seed(t)
	ctx := context.Background()
	_, err := s.Clientset.CoreV1().ServiceAccounts(s.ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: contract.AppMeshEnvoyServiceAccount}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	local := localEngine(s, 10)
	if out, err := local.Run(ctx, deployJSON(t, s.ns, svc, "registry.local/shop:1", false), "exec-1"); err != nil || out.Phase != status.PhaseSucceeded {
		t.Fatalf("install version 1: %+v, %v", out, err)
	}
	srv, d := testDashboard(t, s, s.ns)

	bctx, problems := browser(t)
	p := tab{t: t, ctx: bctx}
	section := `section.rollout[data-key="` + s.ns + "/" + naming.StatusConfigMap(svc) + `"]`
	p.do("load the dashboard", chromedp.Navigate(srv.URL+"/"),
		until(`document.body.dataset.loaded === "true" && document.querySelector('#conn').dataset.state === "live"`),
		until(`document.querySelector('`+section+` .phase').textContent === "Succeeded"`))

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	done := make(chan engine.Outcome, 1)
	go func() {
		out, err := local.Run(runCtx, deployJSON(t, s.ns, svc, "registry.local/shop:2", true), "exec-2")
		if err != nil {
			out.Reason = err.Error()
		}
		done <- out
	}()

	weight := func() int {
		return eval[int](p, "shown weight", `+document.querySelector('`+section+` .weight').dataset.weight`)
	}
	points := func() int {
		return eval[int](p, "plotted points", `+document.querySelector('`+section+` svg[data-metric="weight"]').dataset.points`)
	}
	p.do("see the canary take traffic", until(`document.querySelector('`+section+` .canary').textContent === "v2" && +document.querySelector('`+section+` .weight').dataset.weight >= 10`))
	w1, n1 := weight(), points()
	p.do("see the weight advance", until(`+document.querySelector('`+section+` .weight').dataset.weight > `+strconv.Itoa(w1)+
		` && +document.querySelector('`+section+` svg[data-metric="weight"]').dataset.points > `+strconv.Itoa(n1)))
	w2, n2 := weight(), points()
	analysed := eval[int](p, "analysis points", `+document.querySelector('`+section+` svg[data-metric="successRate"]').dataset.points`)
	if analysed < 1 || w2 <= w1 || n2 <= n1 {
		t.Fatalf("weight %d → %d, weight points %d → %d, success-rate points %d", w1, w2, n1, n2, analysed)
	}
	t.Logf("the page showed the weight go from %d%% to %d%% and the weight plot from %d to %d points", w1, w2, n1, n2)

	// A request the rollout no longer allows, as from a page that is behind:
	// the server refuses it and the page shows the command's own message.
	resume := section + ` button[data-action="resume"]`
	if title := eval[string](p, "resume button", `document.querySelector('`+resume+`').disabled ? document.querySelector('`+resume+`').title : "enabled"`); title != "shop is not paused" {
		t.Fatalf("the resume button of a running rollout: %q, want disabled with the title %q", title, "shop is not paused")
	}
	eval[bool](p, "click resume as a page that is behind would", `(b => { b.disabled = false; b.click(); return true; })(document.querySelector('`+resume+`'))`)
	p.do("ask to resume a rollout that is not paused", until(`document.querySelector('#confirm').open`), click(`#confirm-ok`),
		until(`document.querySelector('`+section+` .message[data-ok="false"]') !== null`))
	shown := eval[string](p, "refusal", `document.querySelector('`+section+` .message').textContent`)
	cli := s.ctl(t, "resume", svc)
	if shown != "canaryctl: shop is not paused; nothing was changed" || shown+"\n" != cli.stderr {
		t.Fatalf("the page showed %q; canaryctl resume printed %q", shown, cli.stderr)
	}

	// The screenshot shows the whole climb, held at 90% for a promote.
	p.do("see the canary wait for a promote", until(`document.querySelector('`+section+` .phase').dataset.phase === "WaitingPromotion"`))
	gates := eval[string](p, "gates", `document.querySelector('`+section+` ul.gates').textContent`)
	if !strings.Contains(gates, "success rate ≥ 99%") || !strings.Contains(gates, "at least 20 requests") {
		t.Fatalf("gates shown: %q", gates)
	}
	if n := eval[int](p, "gate line", `document.querySelectorAll('`+section+` svg[data-metric="successRate"] line.gate').length`); n != 1 {
		t.Fatalf("%d gate lines on the success-rate plot, want 1", n)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("../../../build", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("../../../build", "dashboard.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// Streams that end (a restarted dashboard, a dropped connection) are
	// reopened by the browser's EventSource, which starts from a snapshot.
	before := eval[int](p, "snapshots", `+document.body.dataset.snapshots`)
	d.hub.mu.Lock()
	for ch := range d.hub.subs {
		delete(d.hub.subs, ch)
		close(ch)
	}
	d.hub.mu.Unlock()
	p.do("reconnect", until(`+document.body.dataset.snapshots > `+strconv.Itoa(before)+` && document.querySelector('#conn').dataset.state === "live"`),
		until(`document.querySelector('`+section+` .phase').dataset.phase === "WaitingPromotion"`))

	// Cancelling the confirmation changes nothing.
	p.do("cancel an abort", ask(section+` button[data-action="abort"]`), click(`#confirm-cancel`),
		until(`!document.querySelector('#confirm').open`))
	if data, _ := cmData(t, s.Cluster, s.ns, svc); data[status.KeyRequest] != "" {
		t.Fatalf("a cancelled abort wrote request %q", data[status.KeyRequest])
	}

	p.do("abort from the page", ask(section+` button[data-action="abort"]`),
		until(`document.querySelector('#confirm-text').textContent.startsWith("Abort shop v2?")`),
		click(`#confirm-ok`),
		until(`document.querySelector('`+section+` .message[data-ok="true"]') !== null`))
	if msg := eval[string](p, "abort answer", `document.querySelector('`+section+` .message').textContent`); !strings.HasPrefix(msg, "Abort requested for shop v2 at ") ||
		!strings.HasSuffix(msg, "the engine sends all traffic back to v1 and removes v2.") {
		t.Fatalf("abort answer %q", msg)
	}
	var out engine.Outcome
	select {
	case out = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the rollout did not end within 2 minutes of the abort")
	}
	if out.Phase != status.PhaseRolledBack {
		t.Fatalf("after the abort the rollout ended %s: %s", out.Phase, out.Reason)
	}
	live, err := routers.All()[contract.RouterAppMesh].Weights(ctx, s.Dynamic, s.ns, svc)
	if err != nil || len(live) != 1 || live[0].Name != "shop-1" || live[0].Weight != 100 {
		t.Fatalf("route after the abort: %v, %v; want shop-1 alone at 100", live, err)
	}
	p.do("see the roll back", until(`document.querySelector('`+section+` .phase').textContent === "RolledBack"`),
		until(`document.querySelector('`+section+` .outcome').textContent.startsWith("Rolled back: shop v2 was removed and v1 serves all traffic")`),
		until(`document.querySelectorAll('`+section+` table.history tbody tr').length === 2`),
		until(`+document.querySelector('`+section+` .weight').dataset.weight === 0`))
	// The refused resume answered 409, which Chromium logs; nothing else may fail.
	var unexpected []string
	for _, problem := range problems() {
		if !strings.Contains(problem, "status of 409 (Conflict)") {
			unexpected = append(unexpected, problem)
		}
	}
	if got := unexpected; len(got) > 0 {
		t.Fatalf("the page reported errors: %q", got)
	}
}

// attackPage is a page of another site that tries to promote a rollout on
// the dashboard behind the user's back: a fetch without CORS, then a form.
const attackPage = `<!doctype html>
<title>elsewhere</title>
<form id="attack" method="POST" action="{{TARGET}}"><input name="x" value="1"></form>
<script>
fetch("{{TARGET}}", {method: "POST", mode: "no-cors", credentials: "include", body: "x"})
  .then(() => { document.title = "fetched"; }, (e) => { document.title = "fetch failed: " + e; });
</script>`

// TestRemoteDashboardInChromium: a remote dashboard, opened in the browser
// through its sign-in address, works; pages of other origins on this
// machine, in the same browser, cannot promote through it, by fetch or by
// form, and the rollout's status is unchanged afterwards.
func TestRemoteDashboardInChromium(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 30, 60, 1))
	token, err := randomHex()
	if err != nil {
		t.Fatal(err)
	}
	promotePath := "/api/rollouts/" + s.ns + "/" + svc + "/promote"
	var mu sync.Mutex
	var answered []int // what the dashboard answered each promote
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != promotePath {
				next.ServeHTTP(w, r)
				return
			}
			rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
			next.ServeHTTP(rec, r)
			mu.Lock()
			answered = append(answered, rec.code)
			mu.Unlock()
		})
	}
	promotes := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(answered)
	}
	srv, _ := serveTestDashboard(t, s, s.ns, dashboardOptions{hosts: []string{"dash.test"}, token: token}, record)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	origin := "http://dash.test:" + port
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, strings.ReplaceAll(attackPage, "{{TARGET}}", origin+promotePath))
	}))
	t.Cleanup(attacker.Close)
	_, attackerPort, _ := net.SplitHostPort(attacker.Listener.Addr().String())
	_, rv := cmData(t, s.Cluster, s.ns, svc)

	// dash.test stands for the name the dashboard is reached by; every name
	// here resolves to this machine.
	bctx, problems := browser(t, chromedp.Flag("host-resolver-rules", "MAP dash.test 127.0.0.1"),
		chromedp.Flag("disable-features", "HttpsUpgrades"))
	p := tab{t: t, ctx: bctx}
	section := `section.rollout[data-key="` + s.ns + "/" + naming.StatusConfigMap(svc) + `"]`
	loaded := until(`document.body.dataset.loaded === "true" && document.querySelector('#conn').dataset.state === "live"` +
		` && document.querySelector('` + section + `') !== null`)

	p.do("open the dashboard without the token", chromedp.Navigate(origin+"/"),
		until(`document.body.innerText.includes("this dashboard needs its token")`))
	p.do("sign in", chromedp.Navigate(origin+loginPath+"?token="+token), loaded)
	if at := eval[string](p, "address", `location.href`); at != origin+"/" {
		t.Fatalf("after sign-in the address bar shows %s, want %s", at, origin+"/")
	}
	if n := eval[int](p, "readable cookies", `document.cookie.length`); n != 0 {
		t.Fatalf("the page's scripts can read %d characters of cookies", n)
	}

	// The user, signed in, opens other sites on this machine in new tabs:
	// another site (cross-site: the cookie stays home) and another port of
	// the dashboard's own name (same site: the cookie goes, the origin does
	// not match).
	for i, page := range []struct{ url, shows string }{
		{"http://127.0.0.1:" + attackerPort + "/", "this dashboard needs its token"},
		{"http://dash.test:" + attackerPort + "/", "cross-origin request from \"http://dash.test:" + attackerPort + "\" refused"},
	} {
		tctx, closeTab := chromedp.NewContext(bctx)
		// The tab lives as long as the context of its first call.
		if err := chromedp.Do(tctx); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
		other := tab{t: t, ctx: tctx}
		other.do("visit "+page.url, chromedp.Navigate(page.url), until(`document.title === "fetched"`))
		waitFor(t, func() bool { return len(promotes()) == 2*i+1 })
		eval[bool](other, "submit the form of "+page.url, `setTimeout(() => document.getElementById("attack").submit()), true`)
		waitFor(t, func() bool { return len(promotes()) == 2*i+2 })
		other.do("see the refusal of the form of "+page.url, untilLanded(`location.origin === "`+origin+`" && document.body.innerText.includes(`+strconv.Quote(page.shows)+`)`))
		closeTab()
	}
	if got, want := promotes(), []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusForbidden, http.StatusForbidden}; !slices.Equal(got, want) {
		t.Fatalf("the dashboard answered the other pages' promotes %v, want %v", got, want)
	}
	if data, rv2 := cmData(t, s.Cluster, s.ns, svc); rv2 != rv || data[status.KeyRequest] != "" {
		t.Fatalf("the other pages changed the status: request %q, resource version %s → %s", data[status.KeyRequest], rv, rv2)
	}

	// The dashboard itself still promotes.
	p.do("promote from the dashboard", chromedp.Navigate(origin+"/"), loaded,
		ask(section+` button[data-action="promote"]`), click(`#confirm-ok`),
		until(`document.querySelector('`+section+` .message[data-ok="true"]') !== null`))
	if msg := eval[string](p, "promote answer", `document.querySelector('`+section+` .message').textContent`); !strings.HasPrefix(msg, "Promote requested for "+svc) {
		t.Fatalf("promote answer %q", msg)
	}
	if data, _ := cmData(t, s.Cluster, s.ns, svc); data[status.KeyRequest] != status.RequestPromote {
		t.Fatalf("after the dashboard's promote the request is %q", data[status.KeyRequest])
	}
	if got := promotes(); len(got) != 5 || got[4] != http.StatusOK {
		t.Fatalf("promotes answered %v, want the dashboard's own one answered 200", got)
	}
	var unexpected []string
	for _, problem := range problems() {
		if !strings.Contains(problem, "status of 401 (Unauthorized)") && !strings.Contains(problem, "status of 403 (Forbidden)") {
			unexpected = append(unexpected, problem)
		}
	}
	if len(unexpected) > 0 {
		t.Fatalf("the pages reported errors: %q", unexpected)
	}
}

// codeRecorder notes the status code a handler answered.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (r *codeRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// TestDashboardOnAPhone opens the dashboard at a phone's size: nothing
// scrolls sideways, a verdict's reason gets the card's width, the buttons
// offer only what the server would do (and follow a change), the time axis
// is labelled at round times and durations read as canaryctl history's.
func TestDashboardOnAPhone(t *testing.T) {
	const width = 390
	ctx := context.Background()
	s := seed(t)
	// yelb-appserver runs: ten and a half minutes of climbing weight, the
	// last analysis short of requests.
	begin := time.Now().Add(-10*time.Minute - 30*time.Second)
	for i, at := range []time.Duration{0, 3 * time.Minute, 6 * time.Minute, 9 * time.Minute, 10*time.Minute + 30*time.Second} {
		st := rollout("yelb-appserver", status.PhaseProgressing, 10*(i+1), 10*(i+2), i+1)
		st.Steps, st.UpdatedAt = 9, begin.Add(at)
		if i == 4 {
			st.Verdicts = []status.Verdict{{At: st.UpdatedAt, Weight: st.Weight, Result: "nodata", Requests: 3,
				Reason: "3 requests in the look-back window, fewer than the 20 an analysis needs; the weight holds until traffic reaches the canary"}}
		}
		s.write(t, st)
	}
	ui := rollout("yelb-ui", status.PhaseProgressing, 20, 30, 2)
	warning := "analysis.queries[0] (queue-errors) found no series for the stable version yelb-ui-1: check its metric and label names; " +
		"an analysis without an answer counts as no data (analysis.no_data)"
	ui.Warnings = []string{warning}
	s.write(t, ui)
	ops := status.NewOperator(s.Clientset)
	if _, err := ops.Request(ctx, s.ns, "yelb-ui", status.ActionPause); err != nil {
		t.Fatal(err)
	}
	s.write(t, rollout("yelb-db", status.PhaseSucceeded, 100, 100, 3))
	finished := status.Record{Microservice: "yelb-db", CanaryVersion: 4, CanaryImage: "repo/yelb-db:1.4", StableVersion: 3,
		Phase: status.PhaseSucceeded, StartedAt: begin, FinishedAt: begin.Add(132 * time.Second)}
	if err := s.eng.Finish(ctx, finished); err != nil {
		t.Fatal(err)
	}
	srv, _ := testDashboard(t, s, s.ns)

	bctx, problems := browser(t)
	p := tab{t: t, ctx: bctx}
	section := func(svc string) string {
		return `section.rollout[data-key="` + s.ns + "/" + naming.StatusConfigMap(svc) + `"]`
	}
	p.do("load the dashboard on a phone", chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/"),
		until(`document.body.dataset.loaded === "true" && document.querySelectorAll('section.rollout').length === 3`))
	if got := eval[int](p, "viewport", `window.innerWidth`); got != width {
		t.Errorf("the page is laid out %d px wide, want the phone's %d", got, width)
	}
	if got := eval[int](p, "page width", `document.documentElement.scrollWidth`); got > width {
		t.Errorf("the page is %d px wide on a %d px phone: it scrolls sideways", got, width)
	}
	if got := eval[string](p, "warning", `document.querySelector('`+section("yelb-ui")+` p.warning').textContent`); got != "Warning: "+warning {
		t.Errorf("yelb-ui's warning shows as %q", got)
	}
	reason := eval[float64](p, "reason width", `document.querySelector('`+section("yelb-appserver")+` table.verdicts td.reason').getBoundingClientRect().width`)
	if reason < 300 {
		t.Errorf("the verdict's reason is %.0f px wide on a %d px phone, want the card's width (at least 300 px)", reason, width)
	}

	// The buttons as the server would answer each request now.
	buttons := func(svc string) string {
		return eval[string](p, "buttons of "+svc, `JSON.stringify([...document.querySelectorAll('`+section(svc)+` .actions button')]`+
			`.map(b => b.dataset.action + (b.disabled ? " disabled: " + b.title : " enabled")))`)
	}
	want := func(svc string, allowed ...status.Action) string {
		t.Helper()
		snap, err := ops.Get(ctx, s.ns, svc)
		if err != nil {
			t.Fatal(err)
		}
		var states []string
		for _, a := range dashboardActions {
			_, err := status.NextControl(snap, a)
			switch {
			case slices.Contains(allowed, a) && err == nil:
				states = append(states, string(a)+" enabled")
			case !slices.Contains(allowed, a) && err != nil:
				states = append(states, string(a)+" disabled: "+err.Error())
			default:
				t.Fatalf("%s of %s: the server answers %v", a, svc, err)
			}
		}
		raw, _ := json.Marshal(states)
		return string(raw)
	}
	for _, tt := range []struct {
		svc     string
		allowed []status.Action
	}{
		{"yelb-appserver", []status.Action{status.ActionPause, status.ActionPromote, status.ActionAbort}},
		{"yelb-ui", []status.Action{status.ActionResume, status.ActionPromote, status.ActionAbort}},
		{"yelb-db", nil},
	} {
		if got, want := buttons(tt.svc), want(tt.svc, tt.allowed...); got != want {
			t.Errorf("buttons of %s:\n got %s\nwant %s", tt.svc, got, want)
		}
	}
	if _, err := ops.Request(ctx, s.ns, "yelb-ui", status.ActionResume); err != nil {
		t.Fatal(err)
	}
	running := want("yelb-ui", status.ActionPause, status.ActionPromote, status.ActionAbort)
	p.do("see yelb-ui's buttons follow its resume", until(`JSON.stringify([...document.querySelectorAll('`+section("yelb-ui")+` .actions button')]`+
		`.map(b => b.dataset.action + (b.disabled ? " disabled: " + b.title : " enabled"))) === `+strconv.Quote(running)))

	// Ten and a half minutes: a label every two minutes, on the minute.
	var ticks struct {
		Step   int
		At     []int64
		Labels []string
	}
	raw := eval[string](p, "time axis", `(s => JSON.stringify({step: +s.dataset.tickStep, at: [...s.querySelectorAll('text.tick')].map(e => +e.dataset.at),`+
		` labels: [...s.querySelectorAll('text.tick')].map(e => e.textContent)}))(document.querySelector('`+section("yelb-appserver")+` svg[data-metric="weight"]'))`)
	if err := json.Unmarshal([]byte(raw), &ticks); err != nil {
		t.Fatal(err)
	}
	if ticks.Step != 120000 || len(ticks.At) < 4 || len(ticks.At) > 6 {
		t.Fatalf("time axis over 10m30s: %s; want 4 to 6 labels two minutes apart", raw)
	}
	for i, label := range ticks.Labels {
		at := time.UnixMilli(ticks.At[i])
		if at.Before(begin.Truncate(time.Second)) || at.After(begin.Add(10*time.Minute+31*time.Second)) || at.Second() != 0 ||
			!regexp.MustCompile(`^\d\d:\d[02468]$`).MatchString(label) || (i > 0 && ticks.At[i]-ticks.At[i-1] != 120000) {
			t.Errorf("time label %d %q at %s: want an even minute within the rollout, two minutes after the one before", i, label, at.Format(time.RFC3339Nano))
		}
	}

	shown := eval[string](p, "history duration", `document.querySelector('`+section("yelb-db")+` table.history td.duration').textContent`)
	if cli := strings.Fields(strings.Split(HistoryTable([]status.Record{finished}), "\n")[1])[6]; shown != "2m12s" || shown != cli {
		t.Errorf("the page shows the 132 s rollout as %q, canaryctl history as %q; want both 2m12s", shown, cli)
	}
	if got := problems(); len(got) > 0 {
		t.Fatalf("the page reported errors: %q", got)
	}
}
