package main

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/status"
)

// defaultDashboardAddr keeps the dashboard on this machine: it acts with the
// caller's kubeconfig and, on loopback, asks for no token.
const defaultDashboardAddr = "127.0.0.1:8080"

// csrfHeader carries the page's token on every POST.
const csrfHeader = "X-CSRF-Token"

// sseHeartbeat keeps idle event streams open through proxies and finds
// closed ones.
const sseHeartbeat = 15 * time.Second

// subscriberBuffer is how many events a slow browser may lag behind before
// its stream is closed; EventSource reconnects and starts from a snapshot.
const subscriberBuffer = 64

//go:embed dashboard_assets
var dashboardAssets embed.FS

var dashboardPage = template.Must(template.ParseFS(dashboardAssets, "dashboard_assets/index.html"))

// checkListenAddr refuses an address other machines can reach unless the
// operator said so explicitly.
func checkListenAddr(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("flag --addr %q: want HOST:PORT such as %s", addr, defaultDashboardAddr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("flag --addr %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("flag --addr %q is not a loopback address: the dashboard pauses, promotes and aborts rollouts "+
		"with your kubeconfig's permissions, so it listens on this machine only. "+
		"Reach it from elsewhere through an SSH tunnel, or pass --allow-remote and --host NAME to listen on %q anyway "+
		"(it then asks for a token)", addr, host)
}

// isLoopback reports whether host is localhost or a loopback IP. Other names
// are not resolved: what they stand for can change after the check.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// serveDashboard serves the dashboard until ctx ends.
func serveDashboard(ctx context.Context, ops *status.Operator, client typed.Interface, namespace string, inv invocation, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	token, generated, err := dashboardToken(inv)
	if err != nil {
		fmt.Fprintf(stderr, "canaryctl: %v\n", err)
		return exitUsage
	}
	// One list first: a kubeconfig that may not read the statuses fails
	// here with the API server's reason, not in a retrying watch.
	if _, err := ops.Snapshots(ctx, namespace); err != nil {
		return report(stderr, err)
	}
	hub := newHub()
	if err := hub.follow(ctx, client, namespace, log); err != nil {
		return report(stderr, err)
	}
	ln, err := net.Listen("tcp", inv.addr)
	if err != nil {
		return report(stderr, fmt.Errorf("listen on %s (choose another with --addr): %w", inv.addr, err))
	}
	d, err := newDashboard(ops, hub, namespace, dashboardOptions{addr: ln.Addr().String(), hosts: splitHosts(inv.hosts), token: token})
	if err != nil {
		ln.Close()
		return report(stderr, err)
	}
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	d.announce(stdout, stderr, generated, inv.tokenFile)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return report(stderr, fmt.Errorf("serve the dashboard: %w", err))
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return exitOK
}

// announce prints where to open the dashboard; a generated token is
// printed once, in the sign-in address, on stderr.
func (d *dashboard) announce(stdout, stderr io.Writer, generated bool, tokenFile string) {
	where := "namespace " + d.namespace
	if d.namespace == "" {
		where = "every namespace"
	}
	fmt.Fprintf(stdout, "Dashboard of %s: %s/ (Ctrl-C to stop)\n", where, d.home)
	switch {
	case generated:
		fmt.Fprintf(stderr, "Sign in at %s%s?token=%s\n(shown once: whoever has this address can pause, promote and abort rollouts)\n", d.home, loginPath, d.bearer)
	case d.bearer != "":
		fmt.Fprintf(stderr, "Sign in at %s%s?token=TOKEN with the token in %s\n", d.home, loginPath, tokenFile)
	}
}

// dashboard is the HTTP side: the page, its assets, the event stream and
// the actions.
type dashboard struct {
	ops       *status.Operator
	hub       *hub
	namespace string          // "" serves every namespace
	csrf      string          // the page's CSRF token
	bearer    string          // the token every request must carry; "" on loopback without --token-file
	cookie    string          // the login cookie's name, per port: cookies are not kept apart by port
	hosts     map[string]bool // Host headers accepted
	origins   map[string]bool // the page's own origins, from hosts
	home      string          // the origin printed and named in refusals
}

// dashboardOptions are who may use a dashboard.
type dashboardOptions struct {
	addr  string   // where it listens
	hosts []string // --host names; none: the loopback names of addr
	token string   // bearer token; "" asks for none
}

func newDashboard(ops *status.Operator, hub *hub, namespace string, opt dashboardOptions) (*dashboard, error) {
	_, port, err := net.SplitHostPort(opt.addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard address %q: %w", opt.addr, err)
	}
	d := &dashboard{ops: ops, hub: hub, namespace: namespace, bearer: opt.token, cookie: "canaryctl-dashboard-" + port,
		hosts: loopbackHosts(opt.addr), home: "http://" + canonicalHost(opt.addr)}
	if len(opt.hosts) > 0 {
		if d.hosts, err = allowedHosts(opt.hosts, port); err != nil {
			return nil, err
		}
		first, _ := allowedHost(opt.hosts[0], port)
		d.home = "http://" + first
	}
	d.origins = map[string]bool{}
	for h := range d.hosts {
		d.origins["http://"+h] = true
	}
	if opt.token != "" {
		d.csrf = csrfFor(opt.token)
	} else if d.csrf, err = randomHex(); err != nil {
		return nil, fmt.Errorf("make the dashboard's CSRF token: %w", err)
	}
	return d, nil
}

// loopbackHosts are the names a browser on this machine reaches addr by.
// Any other Host header is a DNS rebinding attempt.
func loopbackHosts(addr string) map[string]bool {
	host, port, _ := net.SplitHostPort(addr)
	names := []string{host, "localhost", "::1"}
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		names[2] = "127.0.0.1"
	}
	hosts := map[string]bool{}
	for _, n := range names {
		hosts[canonicalHost(net.JoinHostPort(n, port))] = true
	}
	return hosts
}

func (d *dashboard) handler() http.Handler {
	assets, _ := fs.Sub(dashboardAssets, "dashboard_assets")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.page)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /api/rollouts", d.rollouts)
	mux.HandleFunc("GET /events", d.events)
	mux.HandleFunc("POST /api/rollouts/{namespace}/{microservice}/{action}", d.act)
	if d.bearer != "" {
		mux.HandleFunc("GET "+loginPath, d.login)
	}
	// Go's own check of Sec-Fetch-Site and Origin against Host, under ours.
	return d.guard(http.NewCrossOriginProtection().Handler(mux))
}

// guard refuses foreign Host headers (DNS rebinding), requests without
// the token where one is asked for, and changes asked from another origin,
// and sets the headers that keep the page from being framed or fed other
// scripts.
func (d *dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.hosts[canonicalHost(r.Host)] {
			http.Error(w, fmt.Sprintf("host %q is not this dashboard's address; open %s/", r.Host, d.home), http.StatusMisdirectedRequest)
			return
		}
		if d.bearer != "" && r.URL.Path != loginPath && !d.signedIn(r) {
			d.unauthorized(w)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if why := d.crossOrigin(r); why != "" {
				http.Error(w, why, http.StatusForbidden)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (d *dashboard) page(w http.ResponseWriter, _ *http.Request) {
	scope := "namespace " + d.namespace
	if d.namespace == "" {
		scope = "all namespaces"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = dashboardPage.Execute(w, map[string]string{"Token": d.csrf, "Scope": scope})
}

func (d *dashboard) rollouts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, d.hub.list())
}

// events streams the rollouts: a "snapshot" of all of them first, then a
// "rollout" per change and a "removed" per deleted status.
func (d *dashboard) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported by this connection", http.StatusInternalServerError)
		return
	}
	ch, cancel := d.hub.subscribe()
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case ev, ok := <-ch:
			if !ok {
				return // too far behind: the browser reconnects for a fresh snapshot
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
		}
		flusher.Flush()
	}
}

// actionResult is what a button shows: canaryctl's own message and exit code.
type actionResult struct {
	OK       bool   `json:"ok"`
	Message  string `json:"message"`
	ExitCode int    `json:"exitCode"`
}

var dashboardActions = []status.Action{status.ActionPause, status.ActionResume, status.ActionPromote, status.ActionAbort}

// act runs an operator request through the same code as the CLI commands.
func (d *dashboard) act(w http.ResponseWriter, r *http.Request) {
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(d.csrf)) != 1 {
		writeJSON(w, http.StatusForbidden, actionResult{Message: "refused: the request lacks this dashboard's CSRF token; reload the page", ExitCode: exitUsage})
		return
	}
	ns, svc, action := r.PathValue("namespace"), r.PathValue("microservice"), status.Action(r.PathValue("action"))
	if !slices.Contains(dashboardActions, action) {
		writeJSON(w, http.StatusNotFound, actionResult{Message: fmt.Sprintf("canaryctl: unknown action %q; want pause, resume, promote or abort", action), ExitCode: exitUsage})
		return
	}
	if d.namespace != "" && ns != d.namespace {
		writeJSON(w, http.StatusForbidden, actionResult{Message: fmt.Sprintf("canaryctl: this dashboard serves namespace %q, not %q", d.namespace, ns), ExitCode: exitUsage})
		return
	}
	msg, code := request(r.Context(), d.ops, ns, svc, action)
	httpCode := http.StatusBadGateway
	switch code {
	case exitOK:
		httpCode = http.StatusOK
	case exitRefused:
		httpCode = http.StatusConflict
	case exitNotFound:
		httpCode = http.StatusNotFound
	}
	writeJSON(w, httpCode, actionResult{OK: code == exitOK, Message: msg, ExitCode: code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// rolloutView is one microservice as the page shows it.
type rolloutView struct {
	Key          string `json:"key"`
	Namespace    string `json:"namespace"`
	Microservice string `json:"microservice"`
	// Phase is as canaryctl status prints it, with requests not honoured yet.
	Phase string `json:"phase"`
	// Outcome is canaryctl watch's last line for a finished rollout.
	Outcome string         `json:"outcome,omitempty"`
	Status  status.Status  `json:"status"`
	Control status.Control `json:"control"`
	// Actions are the buttons the page enables, in dashboardActions order.
	Actions         []actionView `json:"actions"`
	History         []recordView `json:"history"`
	ResourceVersion string       `json:"resourceVersion"`
	// Error is why the status ConfigMap could not be read.
	Error string `json:"error,omitempty"`
}

// actionView says whether a request would be taken now and, if not, why:
// the answer of status.NextControl, the rule the request itself goes
// through, so that the page offers only what the server does.
type actionView struct {
	Action  status.Action `json:"action"`
	Allowed bool          `json:"allowed"`
	Reason  string        `json:"reason,omitempty"`
}

// recordView is a finished rollout with its duration as canaryctl history
// prints it.
type recordView struct {
	status.Record
	Duration string `json:"duration"`
}

// allowedActions says, for each dashboard action, whether the rollout in
// snap takes it now.
func allowedActions(snap status.Snapshot) []actionView {
	views := make([]actionView, 0, len(dashboardActions))
	for _, a := range dashboardActions {
		v := actionView{Action: a, Allowed: true}
		if _, err := status.NextControl(snap, a); err != nil {
			v.Allowed, v.Reason = false, err.Error()
		}
		views = append(views, v)
	}
	return views
}

// unreadableActions refuses every action on a status that cannot be read.
func unreadableActions(err error) []actionView {
	views := make([]actionView, 0, len(dashboardActions))
	for _, a := range dashboardActions {
		views = append(views, actionView{Action: a, Reason: "the rollout's status cannot be read: " + err.Error()})
	}
	return views
}

func viewOf(cm *corev1.ConfigMap) rolloutView {
	v := rolloutView{Key: cm.Namespace + "/" + cm.Name, Namespace: cm.Namespace, ResourceVersion: cm.ResourceVersion, History: []recordView{}}
	snap, err := status.Decode(cm)
	if err != nil {
		v.Microservice, v.Phase, v.Error = cm.Labels[naming.LabelMicroservice], "Unknown", err.Error()
		v.Actions = unreadableActions(err)
		return v
	}
	st := snap.Status
	// The templates are large and the page never shows them.
	st.StableTemplate, st.CanaryTemplate = "", ""
	v.Microservice, v.Phase, v.Status, v.Control, v.Actions = st.Microservice, Phase(snap), st, snap.Control, allowedActions(snap)
	for _, r := range snap.History {
		v.History = append(v.History, recordView{Record: r, Duration: took(r)})
	}
	if status.Terminal(st.Phase) {
		v.Outcome, _ = Outcome(st)
	}
	return v
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data []byte
}

// hub keeps the latest view of every status ConfigMap from an informer and
// fans changes out to the open event streams.
type hub struct {
	mu       sync.Mutex
	rollouts map[string]rolloutView
	subs     map[chan sseEvent]struct{}
}

func newHub() *hub {
	return &hub{rollouts: map[string]rolloutView{}, subs: map[chan sseEvent]struct{}{}}
}

// follow starts an informer on the status ConfigMaps and returns once it
// holds all of them; it stops with ctx.
func (h *hub) follow(ctx context.Context, client typed.Interface, namespace string, log *slog.Logger) error {
	lw := cache.NewFilteredListWatchFromClient(client.CoreV1().RESTClient(), "configmaps", namespace,
		func(o *metav1.ListOptions) { o.LabelSelector = status.Selector })
	inf := cache.NewSharedIndexInformer(lw, &corev1.ConfigMap{}, 0, cache.Indexers{})
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		log.Warn("watch rollout statuses; retrying", "namespace", namespace, "error", err.Error())
	})
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { h.put(obj) },
		UpdateFunc: func(_, obj any) { h.put(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				h.remove(cm.Namespace + "/" + cm.Name)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("follow rollout statuses: %w", err)
	}
	go inf.RunWithContext(ctx)
	synced, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(synced.Done(), inf.HasSynced) {
		return fmt.Errorf("list and watch rollout statuses in %s: not in sync within a minute; check that the kubeconfig may watch ConfigMaps there", scopeName(namespace))
	}
	return nil
}

func scopeName(namespace string) string {
	if namespace == "" {
		return "every namespace"
	}
	return fmt.Sprintf("namespace %q", namespace)
}

func (h *hub) put(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	v := viewOf(cm)
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollouts[v.Key] = v
	h.broadcast(sseEvent{name: "rollout", data: data})
}

func (h *hub) remove(key string) {
	data, _ := json.Marshal(map[string]string{"key": key})
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.rollouts, key)
	h.broadcast(sseEvent{name: "removed", data: data})
}

// broadcast sends ev to every stream; one too far behind is closed. The
// caller holds h.mu.
func (h *hub) broadcast(ev sseEvent) {
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// list is every rollout, sorted by namespace and name.
func (h *hub) list() []rolloutView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sorted()
}

func (h *hub) sorted() []rolloutView {
	out := make([]rolloutView, 0, len(h.rollouts))
	for _, v := range h.rollouts {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Microservice < out[j].Microservice
	})
	return out
}

// subscribe opens a stream that starts with a snapshot of every rollout;
// nothing that changes after the snapshot is missed.
func (h *hub) subscribe() (<-chan sseEvent, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan sseEvent, subscriberBuffer)
	data, err := json.Marshal(h.sorted())
	if err != nil {
		data = []byte("[]")
	}
	ch <- sseEvent{name: "snapshot", data: data}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}
