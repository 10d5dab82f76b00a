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
	"os/exec"
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
		{addr: ":8080", wantErr: "pass --allow-remote to listen"},
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

func TestParseDashboardArgs(t *testing.T) {
	got, err := parseArgs(strings.Fields("dashboard -n yelb"))
	if err != nil || got != (invocation{command: "dashboard", namespace: "yelb", addr: defaultDashboardAddr}) {
		t.Fatalf("dashboard -n yelb = %+v, %v", got, err)
	}
	got, err = parseArgs(strings.Fields("dashboard -A --addr 0.0.0.0:9090 --allow-remote"))
	if err != nil || got != (invocation{command: "dashboard", allNamespaces: true, addr: "0.0.0.0:9090", allowRemote: true}) {
		t.Fatalf("dashboard -A --allow-remote = %+v, %v", got, err)
	}
	for args, want := range map[string]string{
		"dashboard --addr 0.0.0.0:9090": "is not a loopback address",
		"dashboard yelb-ui":             `dashboard takes no microservice name, got "yelb-ui"`,
		"status --addr 127.0.0.1:1":     "flag -addr does not apply to status",
		"dashboard --next":              "flag -next does not apply to dashboard",
	} {
		if _, err := parseArgs(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", args, err, want)
		}
	}
}

// testDashboard serves the dashboard of namespace on the real API server as
// the command does, on a loopback port.
func testDashboard(t *testing.T, s space, namespace string) (*httptest.Server, *dashboard) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := newHub()
	if err := h.follow(ctx, s.Clientset, namespace, slog.New(slog.NewJSONHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	d, err := newDashboard(status.NewOperator(s.Clientset), h, namespace, srv.Listener.Addr().String(), false)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = d.handler()
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
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `<meta name="csrf-token" content="`+d.token+`">`) ||
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
	code, out := post(t, all, "/api/rollouts/"+s.ns+"/yelb-appserver/pause", func(r *http.Request) { r.Header.Set(csrfHeader, allD.token) })
	if code != http.StatusOK || !strings.HasPrefix(out.Message, "Pause requested for yelb-appserver") {
		t.Fatalf("pause through the all-namespaces dashboard: %d %+v", code, out)
	}
	if allD.token == d.token {
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
	withToken := func(r *http.Request) { r.Header.Set(csrfHeader, d.token) }

	refusals := []struct {
		name   string
		change func(*http.Request)
		code   int
		want   string
	}{
		{"no token", nil, http.StatusForbidden, "lacks this dashboard's CSRF token"},
		{"wrong token", func(r *http.Request) { r.Header.Set(csrfHeader, strings.Repeat("0", len(d.token))) }, http.StatusForbidden, "CSRF token"},
		{"foreign origin", func(r *http.Request) { withToken(r); r.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden, "cross-origin"},
		{"cross-site fetch", func(r *http.Request) { withToken(r); r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden, "cross-origin"},
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
		return post(t, srv, "/api/rollouts/"+s.ns+"/"+svc+"/"+action, func(r *http.Request) { r.Header.Set(csrfHeader, d.token) })
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
	code, out = post(t, srv, "/api/rollouts/"+s.ns+"/yelb-app/pause", func(r *http.Request) { r.Header.Set(csrfHeader, d.token) })
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
	if err := status.NewOperator(s.Clientset).RequestPause(context.Background(), s.ns, svc); err != nil {
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

// TestDashboardCommand runs `canaryctl dashboard` as an operator does.
func TestDashboardCommand(t *testing.T) {
	s := seed(t, rollout("yelb-ui", status.PhaseProgressing, 10, 20, 1))
	s.ctl(t, "dashboard", "--addr", "0.0.0.0:8080").expect(t, exitUsage, "", "is not a loopback address")

	cmd := exec.Command(canaryctlBin, "--kubeconfig", s.Kubeconfig, "-n", s.ns, "dashboard", "--addr", "127.0.0.1:0")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	waitFor(t, func() bool { return url.MatchString(stdout.String()) })
	if !strings.Contains(stdout.String(), "Dashboard of namespace "+s.ns+": ") {
		t.Fatalf("stdout: %s", stdout.String())
	}
	res, err := http.Get(url.FindString(stdout.String()) + "api/rollouts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"microservice":"yelb-ui"`) {
		t.Fatalf("rollouts: %s", body)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dashboard after Ctrl-C: %v; stderr: %s", err, stderr.String())
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
// Host, whatever --allow-remote says; elsewhere the Origin checks remain.
func TestDashboardHosts(t *testing.T) {
	for _, tt := range []struct {
		addr        string
		allowRemote bool
		want        []string // nil: any Host
	}{
		{"127.0.0.1:8080", false, []string{"127.0.0.1:8080", "localhost:8080"}},
		{"127.0.0.1:8080", true, []string{"127.0.0.1:8080", "localhost:8080"}},
		{"[::1]:9000", false, []string{"[::1]:9000", "localhost:9000"}},
		{"0.0.0.0:8080", true, nil},
	} {
		d, err := newDashboard(nil, newHub(), "yelb", tt.addr, tt.allowRemote)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for h := range d.hosts {
			got = append(got, h)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s (allow remote %v): hosts %v, want %v", tt.addr, tt.allowRemote, got, tt.want)
		}
	}
}
