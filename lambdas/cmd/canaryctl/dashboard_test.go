package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/status"
)

func TestCheckListenAddr(t *testing.T) {
	tests := []struct {
		addr        string
		allowRemote bool
		wantErr     string
	}{
		{addr: "127.0.0.1:8080"},
		{addr: "127.0.0.1:0"},
		{addr: "[::1]:8080"},
		{addr: "localhost:9000"},
		{addr: "127.10.0.1:8080"},
		{addr: "0.0.0.0:8080", wantErr: `flag --addr "0.0.0.0:8080" is not a loopback address`},
		{addr: ":8080", wantErr: "pass --allow-remote and --host NAME to listen"},
		{addr: "192.168.1.10:8080", wantErr: "SSH tunnel"},
		{addr: "dashboard.example.com:80", wantErr: "not a loopback address"},
		{addr: "0.0.0.0:8080", allowRemote: true},
		{addr: "8080", wantErr: "want HOST:PORT such as 127.0.0.1:8080"},
		{addr: "127.0.0.1:http", wantErr: `port "http" is not a number`},
		{addr: "127.0.0.1:70000", wantErr: `port "70000" is not a number`},
	}
	for _, tt := range tests {
		err := checkListenAddr(tt.addr, tt.allowRemote)
		if tt.wantErr == "" && err != nil {
			t.Errorf("checkListenAddr(%q, %v) = %v, want nil", tt.addr, tt.allowRemote, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkListenAddr(%q, %v) = %v, want an error containing %q", tt.addr, tt.allowRemote, err, tt.wantErr)
		}
	}
}

// TestDashboardFlags: every combination of the dashboard's flags at start.
// A dashboard other machines can reach must name its hosts; a loopback one
// answers to loopback names only.
func TestDashboardFlags(t *testing.T) {
	remote := "dashboard --addr 0.0.0.0:9090 --allow-remote "
	tests := []struct {
		name    string
		args    string
		want    invocation
		wantErr string
	}{
		{name: "loopback default", args: "dashboard -n yelb", want: invocation{command: "dashboard", namespace: "yelb", addr: defaultDashboardAddr}},
		{name: "loopback with a token file", args: "dashboard --token-file /etc/canary/token",
			want: invocation{command: "dashboard", addr: defaultDashboardAddr, tokenFile: "/etc/canary/token"}},
		{name: "remote without --allow-remote", args: "dashboard --addr 0.0.0.0:9090", wantErr: `flag --addr "0.0.0.0:9090" is not a loopback address`},
		{name: "remote --host without --allow-remote", args: "dashboard --addr 0.0.0.0:9090 --host dash.example", wantErr: "is not a loopback address"},
		{name: "remote without --host", args: remote, wantErr: `flag --host is missing: the dashboard on "0.0.0.0:9090" answers only to the names you give with --host`},
		{name: "remote with --host", args: remote + "-A --host dash.example",
			want: invocation{command: "dashboard", allNamespaces: true, addr: "0.0.0.0:9090", allowRemote: true, hosts: "dash.example"}},
		{name: "hosts repeated and comma-separated", args: remote + "--host a.example,b.example --host c.example:8443 --token-file t",
			want: invocation{command: "dashboard", addr: "0.0.0.0:9090", allowRemote: true, hosts: "a.example,b.example,c.example:8443", tokenFile: "t"}},
		{name: "all interfaces, an IP host", args: "dashboard --addr :9090 --allow-remote --host 10.0.0.5,[2001:db8::1]",
			want: invocation{command: "dashboard", addr: ":9090", allowRemote: true, hosts: "10.0.0.5,[2001:db8::1]"}},
		{name: "--host on loopback", args: "dashboard --host dash.example", wantErr: `flag --host "dash.example" does not apply to the loopback --addr "127.0.0.1:8080"`},
		{name: "--host on loopback with --allow-remote", args: "dashboard --addr [::1]:9000 --allow-remote --host dash.example", wantErr: "answers to localhost, 127.0.0.1 and [::1] only"},
		{name: "host with a scheme", args: remote + "--host http://dash.example", wantErr: `flag --host "http://dash.example": give the host name alone, without a scheme`},
		{name: "wildcard host", args: remote + "--host *", wantErr: `"*" is not a host name`},
		{name: "empty host in a list", args: remote + "--host a.example,,b.example", wantErr: `flag --host "": "" is not a host name`},
		{name: "host port zero", args: remote + "--host dash.example:0", wantErr: `port "0" is not a number from 1 to 65535`},
		{name: "host port not a number", args: remote + "--host dash.example:web", wantErr: `port "web" is not a number`},
		{name: "--host on status", args: "status --host dash.example", wantErr: "flag -host does not apply to status"},
		{name: "--token-file on watch", args: "watch yelb-ui --token-file t", wantErr: "flag -token-file does not apply to watch"},
		{name: "a name", args: "dashboard yelb-ui", wantErr: `dashboard takes no microservice name, got "yelb-ui"`},
		{name: "--addr on status", args: "status --addr 127.0.0.1:1", wantErr: "flag -addr does not apply to status"},
		{name: "--next", args: "dashboard --next", wantErr: "flag -next does not apply to dashboard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(strings.Fields(tt.args))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

// testDashboard serves the dashboard of namespace on the real API server as
// the command does, on a loopback port.
func testDashboard(t *testing.T, s space, namespace string) (*httptest.Server, *dashboard) {
	t.Helper()
	return serveTestDashboard(t, s, namespace, dashboardOptions{}, nil)
}

// serveTestDashboard serves a dashboard with opt on a loopback port (the
// port goes into opt.addr), its handler wrapped by wrap if given.
func serveTestDashboard(t *testing.T, s space, namespace string, opt dashboardOptions, wrap func(http.Handler) http.Handler) (*httptest.Server, *dashboard) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := newHub()
	if err := h.follow(ctx, s.Clientset, namespace, slog.New(slog.NewJSONHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	opt.addr = srv.Listener.Addr().String()
	d, err := newDashboard(status.NewOperator(s.Clientset), h, namespace, opt)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = d.handler()
	if wrap != nil {
		srv.Config.Handler = wrap(srv.Config.Handler)
	}
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(cancel) // first: ends the event streams so that Close returns
	return srv, d
}

// post asks the dashboard for an action as the page does, with changes.
func post(t *testing.T, srv *httptest.Server, path string, change func(*http.Request)) (int, actionResult) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if change != nil {
		change(req)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out actionResult
	_ = json.Unmarshal(body, &out)
	if out.Message == "" {
		out.Message = string(body)
	}
	return res.StatusCode, out
}

func TestDashboardPageAndRollouts(t *testing.T) {
	s := seed(t, rollout("yelb-appserver", status.PhaseProgressing, 30, 60, 1, pass(30, 1200, 99.5, 80, 0.4)), rollout("yelb-ui", status.PhaseSucceeded, 100, 100, 3))
	srv, d := testDashboard(t, s, s.ns)

	res, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `<meta name="csrf-token" content="`+d.csrf+`">`) ||
		!strings.Contains(string(page), "namespace "+s.ns) {
		t.Fatalf("page: %d\n%s", res.StatusCode, page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	for _, asset := range []string{"/assets/app.js", "/assets/app.css"} {
		res, err := srv.Client().Get(srv.URL + asset)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.ContentLength < 1000 {
			t.Fatalf("%s: %d, %d bytes", asset, res.StatusCode, res.ContentLength)
		}
	}

	res, err = srv.Client().Get(srv.URL + "/api/rollouts")
	if err != nil {
		t.Fatal(err)
	}
	var views []rolloutView
	if err := json.NewDecoder(res.Body).Decode(&views); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(views) != 2 || views[0].Microservice != "yelb-appserver" || views[1].Microservice != "yelb-ui" {
		t.Fatalf("rollouts: %+v", views)
	}
	app, ui := views[0], views[1]
	if app.Phase != status.PhaseProgressing || app.Status.Weight != 30 || len(app.Status.Timeline) != 1 || app.Status.Verdicts[0].Result != "pass" || app.Outcome != "" {
		t.Errorf("yelb-appserver: %+v", app)
	}
	if ui.Outcome != "Rollout succeeded: yelb-ui v4 serves all traffic." {
		t.Errorf("yelb-ui outcome %q", ui.Outcome)
	}
	for _, v := range views {
		for _, a := range v.Actions {
			if wantAllowed := v.Microservice == "yelb-appserver" && a.Action != status.ActionResume; a.Allowed != wantAllowed || (a.Reason == "") != wantAllowed {
				t.Errorf("%s %s: allowed %v, reason %q", v.Microservice, a.Action, a.Allowed, a.Reason)
			}
		}
		if len(v.Actions) != len(dashboardActions) {
			t.Errorf("%s: actions %+v, want one per button", v.Microservice, v.Actions)
		}
	}

	// -A: every namespace, and actions in any of them.
	all, allD := testDashboard(t, s, "")
	res, err = all.Client().Get(all.URL + "/api/rollouts")
	if err != nil {
		t.Fatal(err)
	}
	views = nil
	if err := json.NewDecoder(res.Body).Decode(&views); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	found := 0
	for _, v := range views {
		if v.Namespace == s.ns {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("all namespaces: %d rollouts of %s in %+v", found, s.ns, views)
	}
	code, out := post(t, all, "/api/rollouts/"+s.ns+"/yelb-appserver/pause", func(r *http.Request) { r.Header.Set(csrfHeader, allD.csrf) })
	if code != http.StatusOK || !strings.HasPrefix(out.Message, "Pause requested for yelb-appserver") {
		t.Fatalf("pause through the all-namespaces dashboard: %d %+v", code, out)
	}
	if allD.csrf == d.csrf {
		t.Fatal("two dashboards share a CSRF token")
	}
}

// TestDashboardRefusesForeignRequests: only a POST from the page itself,
// carrying its token, reaches the cluster; nothing else changes anything.
func TestDashboardRefusesForeignRequests(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 30, 60, 1))
	srv, d := testDashboard(t, s, s.ns)
	_, rv := cmData(t, s.Cluster, s.ns, svc)
	path := "/api/rollouts/" + s.ns + "/" + svc + "/pause"
	withToken := func(r *http.Request) { r.Header.Set(csrfHeader, d.csrf) }

	refusals := []struct {
		name   string
		change func(*http.Request)
		code   int
		want   string
	}{
		{"no token", nil, http.StatusForbidden, "lacks this dashboard's CSRF token"},
		{"wrong token", func(r *http.Request) { r.Header.Set(csrfHeader, strings.Repeat("0", len(d.csrf))) }, http.StatusForbidden, "CSRF token"},
		{"foreign origin", func(r *http.Request) { withToken(r); r.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden, "cross-origin"},
		{"cross-site fetch", func(r *http.Request) { withToken(r); r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden, "cross-origin"},
		{"another port on this machine", func(r *http.Request) {
			withToken(r)
			r.Header.Set("Origin", "http://localhost:1")
			r.Header.Set("Sec-Fetch-Site", "same-site")
		}, http.StatusForbidden, `cross-origin request from "http://localhost:1" refused`},
		{"no Origin, same-site fetch", func(r *http.Request) {
			withToken(r)
			r.Header.Del("Origin")
			r.Header.Set("Sec-Fetch-Site", "same-site")
		}, http.StatusForbidden, `Sec-Fetch-Site is "same-site", not same-origin`},
		{"no Origin, Referer from elsewhere", func(r *http.Request) {
			withToken(r)
			r.Header.Del("Origin")
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Referer", "http://127.0.0.1:1/attack.html")
		}, http.StatusForbidden, `cross-origin request from Referer "http://127.0.0.1:1/attack.html" refused`},
		{"rebound host name", func(r *http.Request) {
			withToken(r)
			r.Host = "evil.example"
			r.Header.Set("Origin", "http://evil.example")
		},
			http.StatusMisdirectedRequest, `host "evil.example" is not this dashboard's address`},
	}
	for _, tt := range refusals {
		code, out := post(t, srv, path, tt.change)
		if code != tt.code || !strings.Contains(out.Message, tt.want) || out.OK {
			t.Errorf("%s: %d %+v, want %d and %q", tt.name, code, out, tt.code, tt.want)
		}
	}
	// A GET changes nothing, whatever it names.
	res, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %d, want 405", path, res.StatusCode)
	}
	code, out := post(t, srv, "/api/rollouts/other-namespace/"+svc+"/abort", withToken)
	if code != http.StatusForbidden || !strings.Contains(out.Message, "this dashboard serves namespace "+`"`+s.ns+`"`) {
		t.Errorf("other namespace: %d %+v", code, out)
	}
	code, out = post(t, srv, "/api/rollouts/"+s.ns+"/"+svc+"/recover", withToken)
	if code != http.StatusNotFound || !strings.Contains(out.Message, `unknown action "recover"`) {
		t.Errorf("recover: %d %+v", code, out)
	}
	if _, rv2 := cmData(t, s.Cluster, s.ns, svc); rv2 != rv {
		t.Fatal("a refused request changed the status ConfigMap")
	}
}

// TestDashboardActionsAreTheCommands: each button answers with what the
// command prints and changes exactly what the command changes.
func TestDashboardActionsAreTheCommands(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 30, 60, 1))
	srv, d := testDashboard(t, s, s.ns)
	act := func(action string) (int, actionResult) {
		return post(t, srv, "/api/rollouts/"+s.ns+"/"+svc+"/"+action, func(r *http.Request) { r.Header.Set(csrfHeader, d.csrf) })
	}
	control := func() (string, string) {
		data, _ := cmData(t, s.Cluster, s.ns, svc)
		return data[status.KeyPaused], data[status.KeyRequest]
	}

	// The command's refusal, word for word.
	cli := s.ctl(t, "resume", svc)
	code, out := act("resume")
	if code != http.StatusConflict || out.OK || out.ExitCode != exitRefused || out.Message+"\n" != cli.stderr || cli.code != exitRefused {
		t.Fatalf("resume: %d %+v; the command printed %q (exit %d)", code, out, cli.stderr, cli.code)
	}
	code, out = act("pause")
	if code != http.StatusOK || !out.OK || out.Message != "Pause requested for yelb-appserver v4 at 30%: the engine holds this weight from its next step. Continue with: canaryctl resume yelb-appserver" {
		t.Fatalf("pause: %d %+v", code, out)
	}
	if p, r := control(); p != "true" || r != "" {
		t.Fatalf("after pause: paused=%q request=%q", p, r)
	}
	cli = s.ctl(t, "pause", svc)
	if _, out = act("pause"); out.Message+"\n" != cli.stderr || !strings.Contains(out.Message, "already paused") {
		t.Fatalf("second pause: %+v; the command printed %q", out, cli.stderr)
	}
	if code, out = act("abort"); code != http.StatusOK || !strings.HasPrefix(out.Message, "Abort requested for yelb-appserver v4 at 30%") {
		t.Fatalf("abort: %d %+v", code, out)
	}
	if p, r := control(); p != "false" || r != status.RequestAbort {
		t.Fatalf("after abort: paused=%q request=%q", p, r)
	}
	if code, out = act("promote"); code != http.StatusConflict || out.Message != "canaryctl: an abort is already pending for yelb-appserver; promote refused; nothing was changed" {
		t.Fatalf("promote after abort: %d %+v", code, out)
	}
	code, out = post(t, srv, "/api/rollouts/"+s.ns+"/yelb-app/pause", func(r *http.Request) { r.Header.Set(csrfHeader, d.csrf) })
	if code != http.StatusNotFound || out.ExitCode != exitNotFound || !strings.Contains(out.Message, `unknown microservice "yelb-app"`) {
		t.Fatalf("unknown microservice: %d %+v", code, out)
	}
}

// sse reads server-sent events.
type sse struct {
	t   *testing.T
	r   *bufio.Reader
	evs chan [2]string
}

func openEvents(t *testing.T, srv *httptest.Server) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, ct)
	}
	s := &sse{t: t, r: bufio.NewReader(res.Body), evs: make(chan [2]string, 100)}
	go func() {
		defer close(s.evs)
		var name, data string
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && name != "":
				s.evs <- [2]string{name, data}
				name, data = "", ""
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

func (s *sse) next(want string) string {
	s.t.Helper()
	select {
	case ev, ok := <-s.evs:
		if !ok {
			s.t.Fatalf("event stream ended, want %s", want)
		}
		if ev[0] != want {
			s.t.Fatalf("event %s %s, want %s", ev[0], ev[1], want)
		}
		return ev[1]
	case <-time.After(30 * time.Second):
		s.t.Fatalf("no %s event within 30s", want)
	}
	return ""
}

// TestDashboardEventsFollowTheWatch: a snapshot first, then every write and
// deletion of a status as it happens.
func TestDashboardEventsFollowTheWatch(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 10, 30, 1))
	srv, _ := testDashboard(t, s, s.ns)
	events := openEvents(t, srv)

	var snapshot []rolloutView
	if err := json.Unmarshal([]byte(events.next("snapshot")), &snapshot); err != nil || len(snapshot) != 1 || snapshot[0].Status.Weight != 10 {
		t.Fatalf("snapshot %+v, %v", snapshot, err)
	}
	s.write(t, rollout(svc, status.PhaseProgressing, 30, 60, 2, pass(30, 500, 100, 40, 0.5)))
	var v rolloutView
	if err := json.Unmarshal([]byte(events.next("rollout")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Status.Weight != 30 || len(v.Status.Timeline) != 2 || v.Status.Timeline[1].Weight != 30 || v.Key != s.ns+"/"+naming.StatusConfigMap(svc) {
		t.Fatalf("after the write: %+v", v)
	}
	if _, err := status.NewOperator(s.Clientset).Request(context.Background(), s.ns, svc, status.ActionPause); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(events.next("rollout")), &v); err != nil || v.Phase != "Progressing (pause requested)" || !v.Control.Paused {
		t.Fatalf("after pause: %+v, %v", v, err)
	}
	if err := s.Clientset.CoreV1().ConfigMaps(s.ns).Delete(context.Background(), naming.StatusConfigMap(svc), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := events.next("removed"); got != `{"key":"`+s.ns+"/"+naming.StatusConfigMap(svc)+`"}` {
		t.Fatalf("removed %s", got)
	}
}

// TestDashboardCommand runs `canaryctl dashboard` as an operator does: on
// loopback as before, and with --token-file asking every request for the
// token.
func TestDashboardCommand(t *testing.T) {
	s := seed(t, rollout("yelb-ui", status.PhaseProgressing, 10, 20, 1))
	s.ctl(t, "dashboard", "--addr", "0.0.0.0:8080").expect(t, exitUsage, "", "is not a loopback address")
	s.ctl(t, "dashboard", "--addr", "0.0.0.0:8080", "--allow-remote").expect(t, exitUsage, "", "flag --host is missing")
	const token = "5e0f2b9c8d7a6e1f3c4b5a6d7e8f9a0b1c2d3e4f"
	dir := t.TempDir()
	loose, tight := filepath.Join(dir, "loose"), filepath.Join(dir, "tight")
	if err := os.WriteFile(loose, []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tight, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.ctl(t, "dashboard", "--token-file", loose).expect(t, exitUsage, "", "has mode 0644: group or others may read or change it")

	// get fetches path from a running dashboard with the given Authorization.
	get := func(base, path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(body)
	}
	for _, tt := range []struct {
		name       string
		args       []string
		auth       string // what a request needs
		wantStderr string
	}{
		{"loopback", nil, "", ""},
		{"loopback with a token file", []string{"--token-file", tight}, "Bearer " + token, "/login?token=TOKEN with the token in " + tight},
	} {
		args := append([]string{"--kubeconfig", s.Kubeconfig, "-n", s.ns, "dashboard", "--addr", "127.0.0.1:0"}, tt.args...)
		cmd := exec.Command(canaryctlBin, args...)
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
		waitFor(t, func() bool { return url.MatchString(stdout.String()) })
		if !strings.Contains(stdout.String(), "Dashboard of namespace "+s.ns+": ") || !strings.Contains(stderr.String(), tt.wantStderr) {
			t.Fatalf("%s: stdout %q, stderr %q", tt.name, stdout.String(), stderr.String())
		}
		base := url.FindString(stdout.String())
		if tt.auth != "" {
			if code, body := get(base, "api/rollouts", ""); code != http.StatusUnauthorized || strings.Contains(body, "yelb-ui") {
				t.Fatalf("%s: without the token: %d %s", tt.name, code, body)
			}
			if code, _ := get(base, "api/rollouts", "Bearer "+strings.Repeat("0", len(token))); code != http.StatusUnauthorized {
				t.Fatalf("%s: with a wrong token: %d", tt.name, code)
			}
		}
		if code, body := get(base, "api/rollouts", tt.auth); code != http.StatusOK || !strings.Contains(body, `"microservice":"yelb-ui"`) {
			t.Fatalf("%s: rollouts: %d %s", tt.name, code, body)
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: dashboard after Ctrl-C: %v; stderr: %s", tt.name, err, stderr.String())
		}
	}
}

// TestHubClosesASlowStream: a browser that stops reading loses its stream
// instead of holding the others up; EventSource reconnects it to a fresh
// snapshot.
func TestHubClosesASlowStream(t *testing.T) {
	h := newHub()
	slow, _ := h.subscribe()
	fast, cancel := h.subscribe()
	defer cancel()
	cm := func(weight int) *corev1.ConfigMap {
		raw, _ := json.Marshal(status.Status{Microservice: "shop", Namespace: "ns", Phase: status.PhaseProgressing, Weight: weight})
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.StatusConfigMap("shop"), Namespace: "ns", Labels: map[string]string{
			naming.LabelStatus: "true", naming.LabelManagedBy: naming.ManagedByValue, naming.LabelMicroservice: "shop"}},
			Data: map[string]string{status.KeyStatus: string(raw)}}
	}
	<-fast // the snapshot
	for i := range subscriberBuffer + 1 {
		h.put(cm(i))
		if ev := <-fast; ev.name != "rollout" {
			t.Fatalf("fast stream got %s", ev.name)
		}
	}
	n := 0
	for range slow {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("the slow stream got %d events before it was closed, want %d", n, subscriberBuffer)
	}
	if got := h.list(); len(got) != 1 || got[0].Status.Weight != subscriberBuffer {
		t.Fatalf("hub holds %+v", got)
	}
	late, cancelLate := h.subscribe()
	defer cancelLate()
	if ev := <-late; ev.name != "snapshot" || !strings.Contains(string(ev.data), `"weight":`+strconv.Itoa(subscriberBuffer)) {
		t.Fatalf("a new stream starts with %s %s", ev.name, ev.data)
	}
}

// TestDashboardHosts: on loopback only the loopback names are accepted as
// Host; with --host only those names, and the page's own origins are built
// from them.
func TestDashboardHosts(t *testing.T) {
	for _, tt := range []struct {
		addr  string
		hosts []string
		want  []string
		home  string
	}{
		{"127.0.0.1:8080", nil, []string{"127.0.0.1:8080", "localhost:8080"}, "http://127.0.0.1:8080"},
		{"127.10.0.1:8080", nil, []string{"127.0.0.1:8080", "127.10.0.1:8080", "localhost:8080"}, "http://127.10.0.1:8080"},
		{"[::1]:9000", nil, []string{"[::1]:9000", "localhost:9000"}, "http://[::1]:9000"},
		{"127.0.0.1:80", nil, []string{"127.0.0.1", "localhost"}, "http://127.0.0.1"},
		{"0.0.0.0:8080", []string{"Dash.Example", "10.0.0.5:9443", "[2001:DB8::1]"},
			[]string{"10.0.0.5:9443", "[2001:db8::1]:8080", "dash.example:8080"}, "http://dash.example:8080"},
		{"[::]:80", []string{"dash.example"}, []string{"dash.example"}, "http://dash.example"},
	} {
		d, err := newDashboard(nil, newHub(), "yelb", dashboardOptions{addr: tt.addr, hosts: tt.hosts})
		if err != nil {
			t.Fatal(err)
		}
		var got, origins []string
		for h := range d.hosts {
			got = append(got, h)
		}
		for o := range d.origins {
			origins = append(origins, strings.TrimPrefix(o, "http://"))
		}
		slices.Sort(got)
		slices.Sort(origins)
		if !slices.Equal(got, tt.want) || !slices.Equal(origins, tt.want) || d.home != tt.home {
			t.Errorf("%s %v: hosts %v, origins %v, home %s; want %v and %s", tt.addr, tt.hosts, got, origins, d.home, tt.want, tt.home)
		}
	}
}

// TestReadTokenFile: a token file only its owner may read or change, one
// long token on one line.
func TestReadTokenFile(t *testing.T) {
	const token = "3f1c0f8e5b9d4a7c2e6f1b8d0a9c7e5f"
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		wantErr string
	}{
		{name: "owner only, trailing newline", content: token + "\n", mode: 0o600, want: token},
		{name: "owner read only", content: token, mode: 0o400, want: token},
		{name: "group may read", content: token, mode: 0o640, wantErr: "has mode 0640: group or others may read or change it"},
		{name: "others may read", content: token, mode: 0o604, wantErr: "has mode 0604"},
		{name: "group may write", content: token, mode: 0o620, wantErr: "run chmod 600"},
		{name: "everyone", content: token, mode: 0o666, wantErr: "has mode 0666"},
		{name: "too short", content: "hunter2", mode: 0o600, wantErr: "the token must be at least 32 of the characters"},
		{name: "empty", content: "\n", mode: 0o600, wantErr: "openssl rand -hex 32"},
		{name: "two words", content: token + " " + token, mode: 0o600, wantErr: "on one line"},
		{name: "a cookie separator", content: token + ";x", mode: 0o600, wantErr: "A-Z a-z 0-9 . _ ~ -"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "token"+strconv.Itoa(i))
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := readTokenFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) || got != "" {
					t.Fatalf("readTokenFile = %q, %v; want an error naming %s and containing %q", got, err, path, tt.wantErr)
				}
				if strings.Contains(err.Error(), token) {
					t.Fatalf("the refusal shows the token: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("readTokenFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for path, want := range map[string]string{filepath.Join(dir, "missing"): "no such file", dir: "is not a regular file"} {
		if _, err := readTokenFile(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--token-file") {
			t.Errorf("readTokenFile(%s) = %v, want an error about --token-file containing %q", path, err, want)
		}
	}
}

// TestDashboardToken: a remote dashboard always asks for a token, a new one
// unless --token-file gives it; a loopback one only with --token-file.
func TestDashboardToken(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	good := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(good, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(loose, []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	tests := []struct {
		name      string
		inv       invocation
		want      string // "random": a new 64-digit hex token
		generated bool
		wantErr   string
	}{
		{name: "loopback", inv: invocation{addr: "127.0.0.1:8080"}},
		{name: "loopback with a token file", inv: invocation{addr: "127.0.0.1:8080", tokenFile: good}, want: token},
		{name: "remote", inv: invocation{addr: "0.0.0.0:8080", hosts: "dash.example"}, want: "random", generated: true},
		{name: "all interfaces", inv: invocation{addr: ":8080", hosts: "dash.example"}, want: "random", generated: true},
		{name: "remote with a token file", inv: invocation{addr: "0.0.0.0:8080", hosts: "dash.example", tokenFile: good}, want: token},
		{name: "remote with a loose token file", inv: invocation{addr: "0.0.0.0:8080", hosts: "dash.example", tokenFile: loose}, wantErr: "has mode 0644"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got, generated, err := dashboardToken(tt.inv)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != "" {
				t.Errorf("%s: %q, %v; want an error containing %q", tt.name, got, err, tt.wantErr)
			}
		case err != nil || generated != tt.generated:
			t.Errorf("%s: generated %v, %v; want generated %v", tt.name, generated, err, tt.generated)
		case tt.want == "random":
			if !hex64.MatchString(got) || seen[got] {
				t.Errorf("%s: token %q, want a new 64-digit hex one", tt.name, got)
			}
			seen[got] = true
		case got != tt.want:
			t.Errorf("%s: token %q, want %q", tt.name, got, tt.want)
		}
	}
}

// fetchAs sends one request to srv as if addressed to host, and reads what
// an event stream sent first.
func fetchAs(t *testing.T, srv *httptest.Server, method, path, host string, change func(*http.Request)) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if change != nil {
		change(req)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") == "text/event-stream" {
		line, _ := bufio.NewReader(res.Body).ReadString('\n')
		return res.StatusCode, line
	}
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestRemoteDashboardAccess: a dashboard other machines reach answers only
// to its --host names and only to requests with its token; a change must
// also come from its own page's origin with the CSRF token bound to the
// token. Every refusal changes nothing.
func TestRemoteDashboardAccess(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 30, 60, 1))
	token, err := randomHex()
	if err != nil {
		t.Fatal(err)
	}
	srv, d := serveTestDashboard(t, s, s.ns, dashboardOptions{hosts: []string{"dash.test"}, token: token}, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	host, origin := "dash.test:"+port, "http://dash.test:"+port
	if d.csrf == token || d.csrf != csrfFor(token) || csrfFor(token) == csrfFor(strings.Repeat("f", 64)) {
		t.Fatalf("CSRF token %q is not bound to the bearer token", d.csrf)
	}
	action := "/api/rollouts/" + s.ns + "/" + svc + "/"

	cookie := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: d.cookie, Value: v}) }
	}
	bearer := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+v) }
	}
	// fromPage is a POST as the signed-in page sends it.
	fromPage := func(r *http.Request) {
		cookie(token)(r)
		r.Header.Set("Origin", origin)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set(csrfHeader, d.csrf)
	}
	and := func(changes ...func(*http.Request)) func(*http.Request) {
		return func(r *http.Request) {
			for _, c := range changes {
				c(r)
			}
		}
	}
	del := func(headers ...string) func(*http.Request) {
		return func(r *http.Request) {
			for _, h := range headers {
				r.Header.Del(h)
			}
		}
	}
	set := func(header, value string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(header, value) }
	}
	wrong := strings.Repeat("0", len(token))
	const needToken = "this dashboard needs its token"

	tests := []struct {
		name, method, path string
		host               string // "" is host
		change             func(*http.Request)
		code               int
		want               string
		changes            bool // the status ConfigMap is written
	}{
		{name: "page without token", path: "/", code: http.StatusUnauthorized, want: needToken},
		{name: "page with a wrong cookie", path: "/", change: cookie(wrong), code: http.StatusUnauthorized, want: needToken},
		{name: "page with a wrong bearer", path: "/", change: bearer(wrong), code: http.StatusUnauthorized, want: needToken},
		{name: "page with the token in another cookie", path: "/", change: func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "canaryctl-dashboard-1", Value: token}) },
			code: http.StatusUnauthorized, want: needToken},
		{name: "page with the cookie", path: "/", change: cookie(token), code: http.StatusOK, want: `<meta name="csrf-token" content="` + d.csrf + `">`},
		{name: "page with the bearer", path: "/", change: bearer(token), code: http.StatusOK, want: "namespace " + s.ns},
		{name: "page by an upper-case host name", path: "/", host: strings.ToUpper(host), change: cookie(token), code: http.StatusOK, want: d.csrf},
		{name: "JSON without token", path: "/api/rollouts", code: http.StatusUnauthorized, want: needToken},
		{name: "JSON with a wrong cookie", path: "/api/rollouts", change: cookie(wrong), code: http.StatusUnauthorized, want: needToken},
		{name: "JSON with the cookie", path: "/api/rollouts", change: cookie(token), code: http.StatusOK, want: `"microservice":"` + svc + `"`},
		{name: "events without token", path: "/events", code: http.StatusUnauthorized, want: needToken},
		{name: "events with a wrong bearer", path: "/events", change: bearer(wrong), code: http.StatusUnauthorized, want: needToken},
		{name: "events with the cookie", path: "/events", change: cookie(token), code: http.StatusOK, want: "retry: 2000"},
		{name: "asset without token", path: "/assets/app.js", code: http.StatusUnauthorized, want: needToken},
		{name: "asset with the cookie", path: "/assets/app.js", change: cookie(token), code: http.StatusOK, want: "EventSource"},
		{name: "action without token", method: http.MethodPost, path: action + "pause", change: and(fromPage, del("Cookie")), code: http.StatusUnauthorized, want: needToken},
		{name: "action with a wrong cookie", method: http.MethodPost, path: action + "pause", change: and(fromPage, del("Cookie"), cookie(wrong)),
			code: http.StatusUnauthorized, want: needToken},
		{name: "action with a wrong bearer over the cookie", method: http.MethodPost, path: action + "pause", change: and(fromPage, bearer(wrong)),
			code: http.StatusUnauthorized, want: needToken},
		{name: "action without CSRF token", method: http.MethodPost, path: action + "pause", change: and(fromPage, del(csrfHeader)),
			code: http.StatusForbidden, want: "lacks this dashboard's CSRF token"},
		{name: "action with another token's CSRF token", method: http.MethodPost, path: action + "pause", change: and(fromPage, set(csrfHeader, csrfFor(wrong))),
			code: http.StatusForbidden, want: "CSRF token"},
		{name: "action with the bearer token as CSRF token", method: http.MethodPost, path: action + "pause", change: and(fromPage, set(csrfHeader, token)),
			code: http.StatusForbidden, want: "CSRF token"},
		{name: "spoofed host", path: "/", host: "evil.example", change: cookie(token), code: http.StatusMisdirectedRequest,
			want: `host "evil.example" is not this dashboard's address; open ` + origin + "/"},
		{name: "the listening address as host", path: "/api/rollouts", host: srv.Listener.Addr().String(), change: bearer(token),
			code: http.StatusMisdirectedRequest, want: "is not this dashboard's address"},
		{name: "allowed name, other port", method: http.MethodPost, path: action + "pause", host: "dash.test:1", change: fromPage,
			code: http.StatusMisdirectedRequest, want: `host "dash.test:1"`},
		{name: "spoofed host and origin", method: http.MethodPost, path: action + "pause", host: "evil.example",
			change: and(fromPage, set("Origin", "http://evil.example")), code: http.StatusMisdirectedRequest, want: "not this dashboard's address"},
		{name: "cross-origin POST", method: http.MethodPost, path: action + "promote", change: and(fromPage, set("Origin", "http://evil.example"), set("Sec-Fetch-Site", "cross-site")),
			code: http.StatusForbidden, want: `cross-origin request from "http://evil.example" refused: only this dashboard's own page (` + origin + "/) may act"},
		{name: "POST from a sibling port", method: http.MethodPost, path: action + "promote", change: and(fromPage, set("Origin", "http://dash.test:1"), set("Sec-Fetch-Site", "same-site")),
			code: http.StatusForbidden, want: `cross-origin request from "http://dash.test:1" refused`},
		{name: "POST from an opaque origin", method: http.MethodPost, path: action + "promote", change: and(fromPage, set("Origin", "null")),
			code: http.StatusForbidden, want: `cross-origin request from "null" refused`},
		{name: "POST from https on the same name", method: http.MethodPost, path: action + "promote", change: and(fromPage, set("Origin", "https://"+host)),
			code: http.StatusForbidden, want: "cross-origin request from"},
		{name: "no Origin, cross-site fetch", method: http.MethodPost, path: action + "abort", change: and(fromPage, del("Origin"), set("Sec-Fetch-Site", "cross-site")),
			code: http.StatusForbidden, want: `Sec-Fetch-Site is "cross-site", not same-origin`},
		{name: "no Origin, Referer from elsewhere", method: http.MethodPost, path: action + "abort", change: and(fromPage, del("Origin", "Sec-Fetch-Site"), set("Referer", "http://127.0.0.1:1/page")),
			code: http.StatusForbidden, want: `cross-origin request from Referer "http://127.0.0.1:1/page" refused`},
		{name: "GET of an action", path: action + "promote", change: cookie(token), code: http.StatusMethodNotAllowed},
		{name: "no Origin, Referer from the page", method: http.MethodPost, path: action + "pause", change: and(fromPage, del("Origin", "Sec-Fetch-Site"), set("Referer", origin+"/")),
			code: http.StatusOK, want: "Pause requested for yelb-appserver", changes: true},
		{name: "a script with the bearer and the CSRF token", method: http.MethodPost, path: action + "resume", change: and(bearer(token), set(csrfHeader, d.csrf)),
			code: http.StatusOK, want: "Resume requested for yelb-appserver", changes: true},
	}
	for _, tt := range tests {
		_, before := cmData(t, s.Cluster, s.ns, svc)
		method, h := tt.method, tt.host
		if method == "" {
			method = http.MethodGet
		}
		if h == "" {
			h = host
		}
		code, body := fetchAs(t, srv, method, tt.path, h, tt.change)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %q, want %d and %q", tt.name, code, body, tt.code, tt.want)
		}
		if code != http.StatusOK && (strings.Contains(body, d.csrf) || strings.Contains(body, token)) {
			t.Errorf("%s: a refusal shows a token: %q", tt.name, body)
		}
		if _, after := cmData(t, s.Cluster, s.ns, svc); (after != before) != tt.changes {
			t.Errorf("%s: status ConfigMap written %v, want %v", tt.name, after != before, tt.changes)
		}
	}
}

// TestDashboardLogin: the sign-in address trades the token for a cookie
// that scripts cannot read and other sites do not send, and moves the
// token out of the address bar.
func TestDashboardLogin(t *testing.T) {
	token, err := randomHex()
	if err != nil {
		t.Fatal(err)
	}
	serve := func(opt dashboardOptions) (*httptest.Server, *dashboard) {
		srv := httptest.NewUnstartedServer(nil)
		opt.addr = srv.Listener.Addr().String()
		d, err := newDashboard(nil, newHub(), "yelb", opt)
		if err != nil {
			t.Fatal(err)
		}
		srv.Config.Handler = d.handler()
		srv.Start()
		t.Cleanup(srv.Close)
		return srv, d
	}
	srv, d := serve(dashboardOptions{hosts: []string{"dash.test"}, token: token})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	login := func(host, query string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+loginPath+query, nil)
		req.Host = host
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, tt := range []struct {
		name, host, query string
		code              int
	}{
		{"no token", "dash.test:" + port, "", http.StatusUnauthorized},
		{"wrong token", "dash.test:" + port, "?token=" + strings.Repeat("0", len(token)), http.StatusUnauthorized},
		{"token prefix", "dash.test:" + port, "?token=" + token[:32], http.StatusUnauthorized},
		{"right token, spoofed host", "evil.example", "?token=" + token, http.StatusMisdirectedRequest},
	} {
		if res := login(tt.host, tt.query); res.StatusCode != tt.code || len(res.Cookies()) != 0 {
			t.Errorf("%s: %d with cookies %v, want %d and none", tt.name, res.StatusCode, res.Cookies(), tt.code)
		}
	}
	res := login("dash.test:"+port, "?token="+token)
	cookies := res.Cookies()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" || len(cookies) != 1 {
		t.Fatalf("sign in: %d to %q with cookies %v", res.StatusCode, res.Header.Get("Location"), cookies)
	}
	if c := cookies[0]; c.Name != "canaryctl-dashboard-"+port || c.Value != token || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("cookie %+v: want canaryctl-dashboard-%s, HttpOnly, SameSite=Strict, Path=/", c, port)
	}
	if res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("the sign-in answer lets the token out in Referer: %q", res.Header.Get("Referrer-Policy"))
	}
	code, page := fetchAs(t, srv, http.MethodGet, "/", "dash.test:"+port, func(r *http.Request) { r.AddCookie(cookies[0]) })
	if code != http.StatusOK || !strings.Contains(page, d.csrf) {
		t.Fatalf("page with the cookie: %d %s", code, page)
	}
	// A loopback dashboard without a token has no sign-in.
	local, _ := serve(dashboardOptions{})
	if code, _ := fetchAs(t, local, http.MethodGet, loginPath+"?token="+token, local.Listener.Addr().String(), nil); code != http.StatusNotFound {
		t.Fatalf("loopback %s: %d, want 404", loginPath, code)
	}
}

// TestDashboardAnnounce: a generated token is shown once, in the sign-in
// address on stderr; stdout, which scripts and logs keep, never has it.
func TestDashboardAnnounce(t *testing.T) {
	token := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		name       string
		opt        dashboardOptions
		generated  bool
		tokenFile  string
		wantStdout string
		wantStderr string
	}{
		{"loopback", dashboardOptions{addr: "127.0.0.1:8080"}, false, "",
			"Dashboard of namespace yelb: http://127.0.0.1:8080/ (Ctrl-C to stop)\n", ""},
		{"remote, generated token", dashboardOptions{addr: "[::]:8080", hosts: []string{"dash.example", "10.0.0.5"}, token: token}, true, "",
			"Dashboard of namespace yelb: http://dash.example:8080/ (Ctrl-C to stop)\n",
			"Sign in at http://dash.example:8080/login?token=" + token + "\n(shown once: whoever has this address can pause, promote and abort rollouts)\n"},
		{"remote, token file", dashboardOptions{addr: "0.0.0.0:80", hosts: []string{"dash.example"}, token: token}, false, "/etc/canary/token",
			"Dashboard of namespace yelb: http://dash.example/ (Ctrl-C to stop)\n",
			"Sign in at http://dash.example/login?token=TOKEN with the token in /etc/canary/token\n"},
	} {
		d, err := newDashboard(nil, newHub(), "yelb", tt.opt)
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr strings.Builder
		d.announce(&stdout, &stderr, tt.generated, tt.tokenFile)
		if stdout.String() != tt.wantStdout || stderr.String() != tt.wantStderr {
			t.Errorf("%s:\nstdout %q\nwant   %q\nstderr %q\nwant   %q", tt.name, stdout.String(), tt.wantStdout, stderr.String(), tt.wantStderr)
		}
	}
}

// TestAllowedActions: the page enables exactly the actions the request
// would take, and a disabled one carries the refusal the request would get.
func TestAllowedActions(t *testing.T) {
	finishedAt := time.Date(2026, 11, 25, 18, 40, 0, 0, time.UTC)
	running := status.Status{Microservice: "yelb-appserver", Phase: status.PhaseProgressing}
	paused := status.Status{Microservice: "yelb-appserver", Phase: status.PhasePaused}
	waiting := status.Status{Microservice: "yelb-appserver", Phase: status.PhaseWaiting}
	done := status.Status{Microservice: "yelb-appserver", Phase: status.PhaseSucceeded, UpdatedAt: finishedAt}
	rolledBack := status.Status{Microservice: "yelb-appserver", Phase: status.PhaseRolledBack, UpdatedAt: finishedAt}
	notRunning := "yelb-appserver has no rollout in progress (last: Succeeded at 2026-11-25T18:40:00Z)"
	tests := []struct {
		name    string
		snap    status.Snapshot
		allowed []status.Action
		refused map[status.Action]string // the title of each disabled button
	}{
		{name: "running", snap: status.Snapshot{Status: running},
			allowed: []status.Action{status.ActionPause, status.ActionPromote, status.ActionAbort},
			refused: map[status.Action]string{status.ActionResume: "yelb-appserver is not paused"}},
		{name: "paused", snap: status.Snapshot{Status: paused, Control: status.Control{Paused: true}},
			allowed: []status.Action{status.ActionResume, status.ActionPromote, status.ActionAbort},
			refused: map[status.Action]string{status.ActionPause: "yelb-appserver is already paused; resume it with: canaryctl resume yelb-appserver"}},
		{name: "waiting for a promote", snap: status.Snapshot{Status: waiting},
			allowed: []status.Action{status.ActionPause, status.ActionPromote, status.ActionAbort},
			refused: map[status.Action]string{status.ActionResume: "yelb-appserver is not paused"}},
		{name: "promote pending", snap: status.Snapshot{Status: running, Control: status.Control{Request: status.RequestPromote}},
			allowed: []status.Action{status.ActionPause, status.ActionAbort},
			refused: map[status.Action]string{status.ActionResume: "yelb-appserver is not paused", status.ActionPromote: "a promote is already pending for yelb-appserver"}},
		{name: "abort pending", snap: status.Snapshot{Status: running, Control: status.Control{Request: status.RequestAbort}},
			allowed: []status.Action{status.ActionPause},
			refused: map[status.Action]string{status.ActionResume: "yelb-appserver is not paused",
				status.ActionPromote: "an abort is already pending for yelb-appserver; promote refused", status.ActionAbort: "an abort is already pending for yelb-appserver"}},
		{name: "succeeded", snap: status.Snapshot{Status: done},
			refused: map[status.Action]string{status.ActionPause: notRunning, status.ActionResume: "yelb-appserver is not paused",
				status.ActionPromote: notRunning, status.ActionAbort: notRunning}},
		{name: "rolled back with a stale pause", snap: status.Snapshot{Status: rolledBack, Control: status.Control{Paused: true}},
			allowed: []status.Action{status.ActionResume},
			refused: map[status.Action]string{status.ActionPause: "yelb-appserver has no rollout in progress (last: RolledBack at 2026-11-25T18:40:00Z)",
				status.ActionPromote: "yelb-appserver has no rollout in progress (last: RolledBack at 2026-11-25T18:40:00Z)",
				status.ActionAbort:   "yelb-appserver has no rollout in progress (last: RolledBack at 2026-11-25T18:40:00Z)"}},
		{name: "no status yet", snap: status.Snapshot{Status: status.Status{Microservice: "yelb-appserver"}},
			refused: map[status.Action]string{status.ActionPause: "yelb-appserver has no rollout in progress (the engine has not reported one yet)",
				status.ActionResume:  "yelb-appserver is not paused",
				status.ActionPromote: "yelb-appserver has no rollout in progress (the engine has not reported one yet)",
				status.ActionAbort:   "yelb-appserver has no rollout in progress (the engine has not reported one yet)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := allowedActions(tt.snap)
			if len(got) != len(dashboardActions) {
				t.Fatalf("%d actions, want one per button: %+v", len(got), got)
			}
			for i, a := range got {
				if a.Action != dashboardActions[i] {
					t.Errorf("action %d is %s, want %s", i, a.Action, dashboardActions[i])
				}
				if want := slices.Contains(tt.allowed, a.Action); a.Allowed != want || a.Reason != tt.refused[a.Action] {
					t.Errorf("%s: allowed %v with reason %q, want allowed %v with reason %q", a.Action, a.Allowed, a.Reason, want, tt.refused[a.Action])
				}
			}
		})
	}

	unreadable := viewOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "yelb", Name: naming.StatusConfigMap("yelb-appserver")}})
	if unreadable.Error == "" || len(unreadable.Actions) != len(dashboardActions) {
		t.Fatalf("a ConfigMap without the engine's labels: error %q, actions %+v", unreadable.Error, unreadable.Actions)
	}
	for _, a := range unreadable.Actions {
		if a.Allowed || a.Reason != "the rollout's status cannot be read: "+unreadable.Error {
			t.Errorf("%s on an unreadable status: allowed %v, reason %q", a.Action, a.Allowed, a.Reason)
		}
	}
}
