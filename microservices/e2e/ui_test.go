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

	p.do("vote", vote("chipotle", "1"), vote("ihop", "1"), vote("ihop", "2"))
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
	if msg, v := p.text("#message"), p.chartValues(); msg != "" || v != "[1,0,2,1]" {
		t.Fatalf("after recovery: message %q, chart %s", msg, v)
	}
}
