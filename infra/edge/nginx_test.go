package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const latticeName = "yelb-ui.yelb.canary-dev.internal"

// dnsStub answers A queries for one name with 127.0.0.1 and NXDOMAIN for
// anything else, and records every name it was asked.
type dnsStub struct {
	conn *net.UDPConn
	name string
	mu   sync.Mutex
	asks []string
}

func startDNS(t *testing.T, name string) *dnsStub {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsStub{conn: conn, name: name + "."}
	t.Cleanup(func() { conn.Close() })
	go s.serve()
	return s
}

func (s *dnsStub) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.asks = append(s.asks, q.Type.String()+" "+q.Name.String())
		s.mu.Unlock()
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if strings.EqualFold(q.Name.String(), s.name) && q.Type == dnsmessage.TypeA {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
		} else {
			b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
			_ = b.StartQuestions()
			_ = b.Question(q)
		}
		if msg, err := b.Finish(); err == nil {
			_, _ = s.conn.WriteToUDP(msg, from)
		}
	}
}

func (s *dnsStub) questions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.asks...)
}

type seen struct {
	Method, Host, URI, ForwardedFor string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestShippedProxyConfigUnderRealNginx runs nginx with the configuration the
// ConfigMap ships, only the listen address, resolver and upstream port
// pointed at local stand-ins: a DNS stub that knows the Lattice name and an
// upstream that records what reaches it.
func TestShippedProxyConfigUnderRealNginx(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			t.Fatal("nginx is not installed: run scripts/install-test-deps.sh (Debian package nginx)")
		}
		bin = "/usr/sbin/nginx"
	}

	var mu sync.Mutex
	var got []seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.Host, r.RequestURI, r.Header.Get("X-Forwarded-For")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"from":"upstream"}`)
	}))
	defer upstream.Close()
	upstreamPort := upstream.Listener.Addr().(*net.TCPAddr).Port
	dns := startDNS(t, latticeName)
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))

	shipped, err := ProxyConfig{Listen: strconv.Itoa(ProxyPort), Resolver: ClusterDNS, Upstream: latticeName, UpstreamPort: 80}.Render()
	if err != nil {
		t.Fatal(err)
	}
	local := ProxyConfig{Listen: listen, Resolver: dns.conn.LocalAddr().String(), Upstream: latticeName, UpstreamPort: upstreamPort}
	conf, err := local.Render()
	if err != nil {
		t.Fatal(err)
	}
	// Only the substituted values differ from the shipped file.
	shippedLines, localLines := strings.Split(shipped, "\n"), strings.Split(conf, "\n")
	if len(shippedLines) != len(localLines) {
		t.Fatalf("rendered files differ in length: %d and %d lines", len(shippedLines), len(localLines))
	}
	for i := range shippedLines {
		if shippedLines[i] == localLines[i] {
			continue
		}
		l := strings.TrimSpace(shippedLines[i])
		if !strings.HasPrefix(l, "listen ") && !strings.HasPrefix(l, "resolver ") && !strings.HasPrefix(l, "proxy_pass ") {
			t.Errorf("line %d differs beyond the substituted values: %q vs %q", i+1, shippedLines[i], localLines[i])
		}
	}

	dir := t.TempDir()
	// The unprivileged nginx reads the file and writes its pid and
	// temporary files under the prefix.
	for d, mode := range map[string]os.FileMode{dir: 0o777, filepath.Dir(dir): 0o711} {
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := ProxyCommand(dir+"/", confPath)
	cmdline := append([]string{bin}, args[1:]...)
	if os.Geteuid() == 0 {
		// Unprivileged, as in the pod: nothing may need root.
		cmdline = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, cmdline...)
	}
	// nginx reopens /dev/stdout for its access log: hand it a file the
	// unprivileged user owns, as a container's stdout is its own.
	logPath := filepath.Join(dir, "nginx.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	if os.Geteuid() == 0 {
		if err := logFile.Chown(65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	check := exec.Command(cmdline[0], append(cmdline[1:], "-t")...)
	check.Stdout, check.Stderr = logFile, logFile
	if err := check.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("nginx -t refuses the shipped configuration: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nginx := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	nginx.Stdout, nginx.Stderr = logFile, logFile
	// TERM makes the master stop its workers too; KILL would orphan them.
	nginx.Cancel = func() error { return nginx.Process.Signal(syscall.SIGTERM) }
	nginx.WaitDelay = 10 * time.Second
	if err := nginx.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = nginx.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("nginx output:\n%s", out)
		}
	}()

	base := "http://" + listen
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("/healthz = %d %q (%s); want 200 \"ok\\n\" text/plain from nginx itself", resp.StatusCode, body, resp.Header.Get("Content-Type"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer /healthz within 10 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if len(got) != 0 {
		t.Errorf("/healthz reached the upstream: %v", got)
	}
	mu.Unlock()
	if q := dns.questions(); len(q) != 0 {
		t.Errorf("nginx resolved %v before any proxied request: the upstream must be resolved at request time", q)
	}

	// A browser's request with the load balancer's name as Host.
	req, _ := http.NewRequest("GET", base+"/api/getvotes", nil)
	req.Host = "a1b2c3.elb.us-west-2.amazonaws.com"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"from":"upstream"}` {
		t.Errorf("/api/getvotes = %d %q; want the upstream's answer", resp.StatusCode, body)
	}
	// A POST with a body, and an absolute-form request naming another host
	// (the instance metadata service): both still go to the one upstream.
	resp, err = client.Post(base+"/api/ihopvote", "text/plain", strings.NewReader("vote"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	raw, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(raw, "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n")
	status, _ := bufio.NewReader(raw).ReadString('\n')
	raw.Close()
	if !strings.Contains(status, " 200 ") {
		t.Errorf("absolute-form request answered %q", status)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []seen{
		{"GET", latticeName, "/api/getvotes", "127.0.0.1"},
		{"POST", latticeName, "/api/ihopvote", "127.0.0.1"},
		{"GET", latticeName, "/latest/meta-data/", "127.0.0.1"},
	}
	if len(got) != len(want) {
		t.Fatalf("upstream saw %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d reached the upstream as %+v; want %+v (Host rewritten to the Lattice name)", i, got[i], want[i])
		}
	}
	for _, q := range dns.questions() {
		if q != "TypeA "+latticeName+"." {
			t.Errorf("nginx asked DNS for %q: only the Lattice name may be resolved", q)
		}
	}
	if len(dns.questions()) == 0 {
		t.Error("nginx never asked the resolver: the upstream was not resolved at request time")
	}
}

func TestProxyConfigRefusesWhatCannotBeSpliced(t *testing.T) {
	ok := ProxyConfig{Listen: "8080", Resolver: ClusterDNS, Upstream: latticeName, UpstreamPort: 80}
	if _, err := ok.Render(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ProxyConfig)
		want string
	}{
		{"upstream with a directive", func(c *ProxyConfig) { c.Upstream = "a.b; return 200" }, "upstream"},
		{"upper-case upstream", func(c *ProxyConfig) { c.Upstream = "Yelb-UI.internal" }, "upstream"},
		{"resolver with options", func(c *ProxyConfig) { c.Resolver = "10.0.0.2 valid=1s" }, "resolver"},
		{"listen out of range", func(c *ProxyConfig) { c.Listen = "70000" }, "listen"},
		{"upstream port", func(c *ProxyConfig) { c.UpstreamPort = 0 }, "upstream port"},
	} {
		c := ok
		tc.edit(&c)
		if _, err := c.Render(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}
