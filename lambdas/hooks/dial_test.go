package hooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func TestAddressProblem(t *testing.T) {
	allowed := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd12:3456::/32")}
	tests := []struct {
		ip      string
		allowed []netip.Prefix
		want    string // a fragment of the reason; "" allowed
	}{
		{"203.0.113.10", nil, ""},
		{"2001:db8::1", nil, ""},
		{"8.8.8.8", allowed, ""},
		{"127.0.0.1", nil, "loopback"},
		{"127.53.1.9", allowed, "loopback"},
		{"::1", nil, "loopback"},
		{"::ffff:127.0.0.1", nil, "loopback"},
		{"0.0.0.0", nil, "unspecified"},
		{"0.1.2.3", nil, "unspecified"},
		{"::", nil, "unspecified"},
		{"169.254.169.254", nil, "EC2 instance metadata"},
		{"::ffff:169.254.169.254", allowed, "EC2 instance metadata"},
		{"fd00:ec2::254", nil, "EC2 instance metadata"},
		{"169.254.170.2", nil, "ECS task metadata"},
		{"::ffff:169.254.170.2", nil, "ECS task metadata"},
		{"169.254.170.23", nil, "EKS Pod Identity"},
		{"fd00:ec2::23", nil, "EKS Pod Identity"},
		{"169.254.1.1", nil, "link-local"},
		{"fe80::1", nil, "link-local"},
		{"fe80::1%eth0", nil, "link-local"},
		{"64:ff9b::a9fe:a9fe", nil, "carries 169.254.169.254 (NAT64), which is the EC2 instance metadata service"},
		{"64:ff9b::7f00:1", nil, "carries 127.0.0.1 (NAT64), which is a loopback"},
		{"64:ff9b::cb00:710a", nil, ""},
		{"64:ff9b::a14:1", allowed, ""},
		{"64:ff9b::a14:1", nil, "carries 10.20.0.1 (NAT64), which is in the private range 10.0.0.0/8"},
		{"2002:7f00:1::1", nil, "carries 127.0.0.1 (6to4), which is a loopback"},
		{"2002:a9fe:a9fe::", nil, "(6to4), which is the EC2 instance metadata service"},
		{"2002:cb00:710a::1", nil, ""},
		{"224.0.0.1", nil, "not a unicast"},
		{"255.255.255.255", nil, "not a unicast"},
		{"ff02::1", nil, "not a unicast"},
		{"10.1.2.3", nil, "private range 10.0.0.0/8"},
		{"10.20.3.4", allowed, ""},
		{"::ffff:10.20.3.4", allowed, ""},
		{"10.21.3.4", allowed, "private range 10.0.0.0/8"},
		{"172.16.0.1", nil, "private range 172.16.0.0/12"},
		{"172.32.0.1", nil, ""},
		{"192.168.1.1", nil, "private range 192.168.0.0/16"},
		{"100.64.0.1", nil, "private range 100.64.0.0/10"},
		{"fd12:3456::1", nil, "private range fc00::/7"},
		{"fd12:3456::1", allowed, ""},
		{"fd00:ec2::254", []netip.Prefix{netip.MustParsePrefix("fc00::/7")}, "EC2 instance metadata"},
	}
	for _, tt := range tests {
		got := AddressProblem(netip.MustParseAddr(tt.ip), tt.allowed)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("AddressProblem(%s, %v) = %q, want allowed", tt.ip, tt.allowed, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("AddressProblem(%s, %v) = %q, want %q", tt.ip, tt.allowed, got, tt.want)
		}
	}
	if got := AddressProblem(netip.Addr{}, nil); got == "" {
		t.Error("the zero address is allowed")
	}
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		list string
		want []string // the prefixes read, or fragments of the error
		ok   bool
	}{
		{"", nil, true},
		{" 10.20.0.0/16 , fd12:3456::/32", []string{"10.20.0.0/16", "fd12:3456::/32"}, true},
		{"::ffff:10.20.0.0/112", []string{"10.20.0.0/16"}, true},
		{"10.20.0.1/16", []string{`"10.20.0.1/16" has host bits set: write 10.20.0.0/16`}, false},
		{"10.0.0.0", []string{`"10.0.0.0" is not a CIDR`}, false},
		{"0.0.0.0/0", []string{`"0.0.0.0/0" covers 0.0.0.0/8`}, false},
		{"127.0.0.0/8", []string{`covers 127.0.0.0/8`}, false},
		{"169.254.169.0/24", []string{`covers 169.254.0.0/16`}, false},
		{"::/0", []string{`covers ::/128`}, false},
		{"fc00::/7", []string{`covers fd00:ec2::254/128`}, false},
		{"::ffff:127.0.0.0/104", []string{`covers 127.0.0.0/8`}, false},
		{"10.0.0.0/8,fe80::/64", []string{`"fe80::/64" covers fe80::/10`, "never allowed"}, false},
	}
	for _, tt := range tests {
		got, err := ParseCIDRs(tt.list)
		if !tt.ok {
			if err == nil {
				t.Errorf("ParseCIDRs(%q) = %v, want an error", tt.list, got)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseCIDRs(%q) error %q lacks %q", tt.list, err, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCIDRs(%q): %v", tt.list, err)
			continue
		}
		var names []string
		for _, p := range got {
			names = append(names, p.String())
		}
		if strings.Join(names, " ") != strings.Join(tt.want, " ") {
			t.Errorf("ParseCIDRs(%q) = %v, want %v", tt.list, names, tt.want)
		}
	}
}

// dnsStub answers A queries on 127.0.0.1 from records and every other
// question with no answer, so that the dialer sees what a name resolves to.
func dnsStub(t *testing.T, records map[string][4]byte) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
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
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if a, ok := records[q.Name.String()]; ok && q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: a})
			}
			if msg, err := b.Finish(); err == nil {
				_, _ = conn.WriteTo(msg, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", conn.LocalAddr().String())
	}}
}

// TestDialerJudgesResolvedAddresses: names that resolve to loopback or to
// the metadata service are refused when the connection is made, before
// anything is sent; a name that resolves into an allowed network gets
// through the check.
func TestDialerJudgesResolvedAddresses(t *testing.T) {
	resolver := dnsStub(t, map[string][4]byte{
		"loopback.test.": {127, 0, 0, 1},
		"metadata.test.": {169, 254, 169, 254},
		"private.test.":  {10, 20, 30, 40},
	})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	at := func(host string) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/gate" }

	// The server is on 127.0.0.1 and answers an unchecked client.
	if res := Call(context.Background(), srv.Client(), HTTP{URL: at("127.0.0.1"), Timeout: time.Second}, Payload{}); !res.Passed || requests.Load() != 1 {
		t.Fatalf("the test server does not answer: %+v", res)
	}
	requests.Store(0)

	client := Client([]netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, resolver)
	for host, want := range map[string]string{
		"loopback.test": "webhooks may not connect to 127.0.0.1: it is a loopback address",
		"metadata.test": "webhooks may not connect to 169.254.169.254: it is the EC2 instance metadata service",
		"127.0.0.1":     "webhooks may not connect to 127.0.0.1: it is a loopback address",
	} {
		res := Call(context.Background(), client, HTTP{URL: at(host), Timeout: 2 * time.Second, Retries: 2, Backoff: time.Millisecond}, Payload{})
		if res.Passed || !strings.Contains(res.Output, want) || !strings.HasPrefix(res.Output, "POST http://"+net.JoinHostPort(host, strconv.Itoa(port))+":") {
			t.Errorf("%s: result %+v, want a refusal %q", host, res, want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the server received %d requests through refused names", n)
	}

	// private.test is allowed: the check lets the connection go on, and
	// the test stops it there, since nothing listens at 10.20.30.40.
	d := dialer([]netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, resolver)
	check := d.ControlContext
	errStop := errors.New("stopped after the check")
	var checked string
	d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := check(ctx, network, address, c); err != nil {
			return err
		}
		checked = address
		return errStop
	}
	if _, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort("private.test", "443")); !errors.Is(err, errStop) || checked != "10.20.30.40:443" {
		t.Errorf("private.test through the allow-list: %v (checked %q), want it past the check", err, checked)
	}
	_, err := dialer(nil, resolver).DialContext(context.Background(), "tcp", net.JoinHostPort("private.test", "443"))
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "private range 10.0.0.0/8") || !strings.Contains(err.Error(), "hookAllowedCIDRs") {
		t.Errorf("private.test without the allow-list: %v, want a refusal naming the configuration key", err)
	}
}

func TestClientIgnoresProxySettings(t *testing.T) {
	tr, ok := Client(nil, nil).Transport.(*http.Transport)
	if !ok || tr.Proxy != nil {
		t.Errorf("webhook transport %+v: want one with no proxy", Client(nil, nil).Transport)
	}
}

func TestNilClientIsChecked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	res := Call(context.Background(), nil, HTTP{URL: srv.URL, Timeout: time.Second}, Payload{})
	if res.Passed || !strings.Contains(res.Output, "webhooks may not connect to 127.0.0.1") {
		t.Errorf("result %+v, want a refusal", res)
	}
}

func TestCallFollowsNoRedirect(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer target.Close()
	u, _ := url.Parse(target.URL)
	u.User, u.Path = url.UserPassword("admin", "hunter22"), "/token/abc123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	res := Call(context.Background(), srv.Client(), HTTP{URL: srv.URL + "/gate", Timeout: time.Second, Retries: 1, Backoff: time.Millisecond}, Payload{})
	want := "HTTP 307: a redirect to " + target.URL + ", which webhooks do not follow"
	if res.Passed || !strings.Contains(res.Output, want) || reached.Load() != 0 {
		t.Errorf("result %+v after %d requests at the target, want %q", res, reached.Load(), want)
	}
	for _, secret := range []string{"admin", "hunter22", "abc123"} {
		if strings.Contains(res.Output, secret) {
			t.Errorf("output %q shows %q", res.Output, secret)
		}
	}
}

// TestCallNeverShowsTheURL: whatever fails, the output names the webhook
// by scheme://host:port only.
func TestCallNeverShowsTheURL(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no route for POST "+r.URL.RequestURI()+" at http://"+r.Host+r.URL.RequestURI(), http.StatusNotFound)
	}))
	defer echo.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := closed.Listener.Addr().String()
	closed.Close()
	secretPath := "/services/T000/B000/XXXXtokenXXXX?sig=s3cr3t"
	tests := []struct {
		name, url, shown string
	}{
		{"refused connection", "http://deploy:pa55word@" + closedHost + secretPath, "POST http://" + closedHost + ": "},
		{"server echoes the URL", strings.Replace(echo.URL, "http://", "http://deploy:pa55word@", 1) + secretPath, "HTTP 404: no route for POST /…"},
		{"timeout", strings.Replace(slow.URL, "http://", "http://deploy:pa55word@", 1) + secretPath, "POST " + slow.URL + ": no answer within 100ms (timeout)"},
		{"unusable URL", "http://deploy:pa55 word@" + closedHost + secretPath, "the URL cannot be used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Call(context.Background(), echo.Client(), HTTP{URL: tt.url, Timeout: 100 * time.Millisecond, Backoff: time.Millisecond}, Payload{})
			if res.Passed || !strings.Contains(res.Output, tt.shown) {
				t.Errorf("output %q lacks %q", res.Output, tt.shown)
			}
			for _, secret := range []string{"deploy", "pa55", "XXXXtokenXXXX", "s3cr3t", "/services"} {
				if strings.Contains(res.Output, secret) {
					t.Errorf("output %q shows %q", res.Output, secret)
				}
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://user:pass@hooks.example.com:8443/services/T/B/token?x=1#f": "https://hooks.example.com:8443",
		"http://[fd12::1]:8080/gate":                                        "http://[fd12::1]:8080",
		"hooks.example.com/gate":                                            "",
		"http://[::1":                                                       "",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
