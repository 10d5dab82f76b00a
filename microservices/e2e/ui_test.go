package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/eks-canary/yelb-appserver/testenv"
)

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
		t.Fatal("chromium not found; install the Debian packages chromium and chromium-driver or set CHROMIUM_BIN")
	}
	return p
}

// browser starts headless Chromium with a fresh profile and collects page
// errors (exceptions and console, network or CSP errors).
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })

	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
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
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable runtime events: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := problems
		problems = nil
		return out
	}
}

// page runs browser steps with a bound on each.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](p page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (p page) text(sel string) string {
	p.t.Helper()
	return run(p, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (p page) chartValues() string {
	p.t.Helper()
	return run(p, "chart values", chromedp.AttributeValue(chromedp.CSS("#votes-chart"), "data-values")).Value
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

func waitReady(state string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`#app[data-state="` + state + `"]`))
}

// waitJS waits until a JavaScript expression is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))(ctx, t)
		return chromedp.Void{}, err
	}
}

func countIs(restaurant, n string) chromedp.Action[chromedp.Void] {
	return waitJS(`document.querySelector('.card[data-restaurant="` + restaurant + `"] .count').textContent === "` + n + `"`)
}

func vote(restaurant, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		waitJS(`!document.querySelector('.card[data-restaurant="`+restaurant+`"] button').disabled`),
		click(`.card[data-restaurant="`+restaurant+`"] button`),
		countIs(restaurant, want),
	)
}

func TestVotingPageInChromiumThroughNginx(t *testing.T) {
	pg := testenv.StartPostgres(t)
	initDatabase(t, pg)
	rd := testenv.StartRedis(t)
	app := startAppServer(t, pg, rd, "3")
	dist := buildUI(t)
	site := startNginx(t, dist, app.url)

	resp, err := http.Get(site + "/api/hostname")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != app.hostname {
		t.Fatalf("nginx /api/hostname = %d %q, want the app server's %q", resp.StatusCode, body, app.hostname)
	}
	if resp.Header.Get("X-Yelb-Appserver-Version") != "3" {
		t.Fatalf("version header lost through nginx: %v", resp.Header)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("nginx /api/hostname Content-Type %q, want application/json like the original", ct)
	}
	// The original UI's production build calls //api/...: served, not redirected.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"//api/getvotes", "//api/hostname"} {
		r, err := noRedirect.Get(site + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("GET %s through nginx = %d %q (Location %q), want it served", path, r.StatusCode, b, r.Header.Get("Location"))
		}
	}
	r, err := noRedirect.Post(site+"/api/getvotes", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "HEAD,GET,OPTIONS" {
		t.Fatalf("POST /api/getvotes through nginx = %d Allow %q, want 405 with Allow", r.StatusCode, r.Header.Get("Allow"))
	}
	if resp, err = http.Get(site + "/"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("page served without the CSP that forbids CDN scripts: %q", csp)
	}

	ctx, problems := browser(t)
	p := page{t: t, ctx: ctx}
	p.do("load page", chromedp.Navigate(site+"/"), waitReady("ready"))
	pageviews, server, version := p.text("#pageviews"), p.text("#appserver"), p.text("#appserver-version")
	if pageviews != "1" || server != app.hostname || version != "3 (build e2e-build)" {
		t.Fatalf("stats on load: pageviews %q, app server %q, version %q", pageviews, server, version)
	}
	if v := p.chartValues(); v != "[0,0,0,0]" {
		t.Fatalf("chart data on a fresh database = %s", v)
	}
	if welcome := p.text("header .welcome"); !strings.HasPrefix(welcome, "Welcome to Yelb") {
		t.Fatalf("welcome text %q", welcome)
	}
	if dish := p.text(`.card[data-restaurant="ihop"] .dish`); dish == "" {
		t.Fatal("the IHOP card has no tagline")
	}
	emptyShown := `!document.getElementById('empty-chart').hidden && document.querySelector('.chart').hidden`
	if !run(p, "empty chart state", chromedp.Evaluate[bool](emptyShown)) {
		t.Fatal("no empty-chart state on a fresh database")
	}

	p.do("vote", vote("chipotle", "1"), vote("ihop", "1"), vote("ihop", "2"))
	if run(p, "empty chart state", chromedp.Evaluate[bool](emptyShown)) {
		t.Fatal("the empty-chart state stays after votes")
	}
	if v := p.chartValues(); v != "[0,0,2,1]" {
		t.Fatalf("chart data after votes = %s, want outback 0, bucadibeppo 0, ihop 2, chipotle 1", v)
	}
	painted := run(p, "read canvas", chromedp.Evaluate[bool](`(() => { const c = document.getElementById('votes-chart');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; } return false; })()`))
	if !painted {
		t.Fatal("the chart canvas is blank")
	}
	if last := p.text("#last-answer"); !strings.Contains(last, app.hostname) || !strings.Contains(last, "version 3") {
		t.Fatalf("last answer = %q", last)
	}
	if n, err := pg.QueryInt(context.Background(), "yelbdatabase", "SELECT count FROM restaurants WHERE name = 'ihop'"); err != nil || n != 2 {
		t.Fatalf("ihop in the database = %d (%v), want 2", n, err)
	}

	screenshot := run(p, "screenshot", chromedp.FullScreenshot(100))
	shot := filepath.Join(artifacts(t), "yelb-ui.png")
	if err := os.WriteFile(shot, screenshot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(screenshot))

	p.do("reload", chromedp.Reload(), waitReady("ready"))
	if pv, v := p.text("#pageviews"), p.chartValues(); pv != "2" || v != "[0,0,2,1]" {
		t.Fatalf("after reload: pageviews %q, chart %s", pv, v)
	}

	// A deep link gets index.html, whose absolute asset URLs still load.
	p.do("deep link", chromedp.Navigate(site+"/results/today/"), waitReady("ready"))
	if pv, v := p.text("#pageviews"), p.chartValues(); pv != "3" || v != "[0,0,2,1]" {
		t.Fatalf("deep link: pageviews %q, chart %s", pv, v)
	}

	// Redis holds only page views: with it down the page loads, votes work,
	// and page views say they are unavailable.
	if err := rd.Stop(); err != nil {
		t.Fatal(err)
	}
	p.do("reload without Redis", chromedp.Reload(), waitReady("ready"))
	if pv, server := p.text("#pageviews"), p.text("#appserver"); pv != "unavailable right now" || server != app.hostname {
		t.Fatalf("without Redis: pageviews %q, app server %q", pv, server)
	}
	p.do("vote without Redis", vote("bucadibeppo", "1"))
	if err := rd.Start(); err != nil {
		t.Fatal(err)
	}
	if errs := problems(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}

	// A vote during a database outage shows the app server's message and
	// counts nothing; after the database returns, voting works again.
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	p.do("vote during outage", click(`.card[data-restaurant="outback"] button`), waitReady("error"))
	if msg := p.text("#message"); !strings.Contains(msg, "503") || !strings.Contains(msg, "postgres is unavailable") {
		t.Fatalf("outage message = %q", msg)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, app.url+"/readyz", "")
	p.do("vote after recovery", vote("outback", "1"))
	if msg, v := p.text("#message"), p.chartValues(); msg != "" || v != "[1,1,2,1]" {
		t.Fatalf("after recovery: message %q, chart %s", msg, v)
	}
}

// On a 390 px wide phone nothing is wider than the screen: the chart fits
// its card and the cards stack.
func TestVotingPageOnAPhone(t *testing.T) {
	pg := testenv.StartPostgres(t)
	initDatabase(t, pg)
	rd := testenv.StartRedis(t)
	app := startAppServer(t, pg, rd, "4")
	site := startNginx(t, buildUI(t), app.url)

	ctx, problems := browser(t)
	p := page{t: t, ctx: ctx}
	p.do("load on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(site+"/"), waitReady("ready"), vote("outback", "1"), vote("ihop", "1"))
	fit := run(p, "layout", chromedp.Evaluate[map[string]float64](`(() => {
		const card = document.querySelector('.chart-card').getBoundingClientRect();
		const canvas = document.getElementById('votes-chart').getBoundingClientRect();
		const first = document.querySelector('.card').getBoundingClientRect();
		return { viewport: window.innerWidth, scroll: document.documentElement.scrollWidth,
			cardLeft: card.left, cardRight: card.right, canvasLeft: canvas.left, canvasRight: canvas.right,
			canvasWidth: canvas.width, cardWidth: first.width };
	})()`))
	if fit["viewport"] != 390 {
		t.Fatalf("viewport %v px wide, want 390", fit["viewport"])
	}
	if fit["scroll"] > fit["viewport"] {
		t.Errorf("the page is %v px wide on a %v px screen: it scrolls sideways", fit["scroll"], fit["viewport"])
	}
	if fit["canvasLeft"] < fit["cardLeft"] || fit["canvasRight"] > fit["cardRight"] || fit["canvasWidth"] < 200 {
		t.Errorf("chart %v..%v (%v px) does not fit its card %v..%v", fit["canvasLeft"], fit["canvasRight"], fit["canvasWidth"], fit["cardLeft"], fit["cardRight"])
	}
	if fit["cardWidth"] < 300 {
		t.Errorf("restaurant cards %v px wide: on a phone they stack one per row", fit["cardWidth"])
	}
	shot := filepath.Join(artifacts(t), "yelb-ui-phone.png")
	if err := os.WriteFile(shot, run(p, "screenshot", chromedp.FullScreenshot(100)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if errs := problems(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}
}

// In sample mode yelb-ui may start before the app server's VPC Lattice name
// is in DNS: nginx still starts and is healthy (so the rollout proceeds),
// answers /api with 502 until the name resolves, and the page says so.
func TestUIStartsBeforeTheAppServerNameResolves(t *testing.T) {
	site := startNginx(t, buildUI(t), "http://yelb-appserver.yelb.canary.internal")
	resp, err := http.Get(site + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d, want 200 while the app server's name does not resolve", resp.StatusCode)
	}
	if resp, err = http.Get(site + "/api/getvotes"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("/api/getvotes = %d, want 502 until the name resolves", resp.StatusCode)
	}
	ctx, _ := browser(t)
	p := page{t: t, ctx: ctx}
	p.do("load without an app server", chromedp.Navigate(site+"/"), waitReady("error"))
	if msg := p.text("#message"); !strings.Contains(msg, "502") {
		t.Fatalf("message %q, want the 502 explained", msg)
	}
}
