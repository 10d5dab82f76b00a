package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// loginPath signs a browser in: it trades the token in its query for a
// cookie that scripts cannot read and other sites' pages do not send.
const loginPath = "/login"

// minTokenLength keeps a token from --token-file as hard to guess as a
// generated one (32 hex digits are 128 bits).
const minTokenLength = 32

// tokenChars are the characters a token may use: they pass unchanged in a
// cookie, a header and a URL query.
var tokenChars = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// hostsFlag collects --host NAME, repeated or comma-separated, into one
// comma-separated string so that invocation stays comparable.
type hostsFlag struct{ hosts *string }

func (f hostsFlag) String() string {
	if f.hosts == nil {
		return ""
	}
	return *f.hosts
}

func (f hostsFlag) Set(v string) error {
	if *f.hosts != "" {
		*f.hosts += ","
	}
	*f.hosts += v
	return nil
}

// splitHosts is the --host names in the order given.
func splitHosts(hosts string) []string {
	if hosts == "" {
		return nil
	}
	names := strings.Split(hosts, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	return names
}

// checkDashboardFlags refuses, before anything starts, a dashboard other
// machines can reach that does not say which names it answers to, and
// --host on a loopback one, which answers to loopback names only.
func checkDashboardFlags(inv invocation) error {
	if err := checkListenAddr(inv.addr, inv.allowRemote); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(inv.addr)
	names := splitHosts(inv.hosts)
	if isLoopback(host) {
		if len(names) > 0 {
			return fmt.Errorf("flag --host %q does not apply to the loopback --addr %q: a loopback dashboard answers to localhost, 127.0.0.1 and [::1] only; "+
				"drop --host, or listen on another address with --addr and --allow-remote", inv.hosts, inv.addr)
		}
		return nil
	}
	if len(names) == 0 {
		return fmt.Errorf("flag --host is missing: the dashboard on %q answers only to the names you give with --host "+
			"(for example --host dashboard.internal), so that no other site's name can reach it", inv.addr)
	}
	_, err := allowedHosts(names, port)
	return err
}

// allowedHosts is the Host values a dashboard answers to.
func allowedHosts(names []string, port string) (map[string]bool, error) {
	hosts := map[string]bool{}
	for _, name := range names {
		h, err := allowedHost(name, port)
		if err != nil {
			return nil, err
		}
		hosts[h] = true
	}
	return hosts, nil
}

// allowedHost is the Host header a browser sends for a --host name: the
// name with the port the dashboard listens on, unless it carries its own
// (a forwarded port).
func allowedHost(name, port string) (string, error) {
	if strings.ContainsAny(name, "/?#@") {
		return "", fmt.Errorf("flag --host %q: give the host name alone, without a scheme, user or path, such as dashboard.internal", name)
	}
	host, p, err := net.SplitHostPort(name)
	if err != nil {
		host, p = strings.Trim(name, "[]"), port
	}
	host = strings.ToLower(host)
	if !validHost(host) {
		return "", fmt.Errorf("flag --host %q: %q is not a host name or IP address; want a name such as dashboard.internal "+
			"or an address such as 10.0.0.5, optionally with :PORT", name, host)
	}
	if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("flag --host %q: port %q is not a number from 1 to 65535", name, p)
	}
	return canonicalHost(net.JoinHostPort(host, p)), nil
}

// validHost accepts an IP address or a DNS name; never a wildcard, a
// scheme or a path.
func validHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// canonicalHost is a Host header as a browser sends it for host:port:
// lower case, without the default port.
func canonicalHost(hostport string) string {
	return strings.TrimSuffix(strings.ToLower(hostport), ":80")
}

// dashboardToken is the bearer token the dashboard asks for: the one in
// --token-file, a new one for a dashboard other machines can reach
// (generated, so it must be shown once), or none for a loopback one.
func dashboardToken(inv invocation) (token string, generated bool, err error) {
	if inv.tokenFile != "" {
		token, err = readTokenFile(inv.tokenFile)
		return token, false, err
	}
	if host, _, _ := net.SplitHostPort(inv.addr); isLoopback(host) {
		return "", false, nil
	}
	token, err = randomHex()
	if err != nil {
		return "", false, fmt.Errorf("make the dashboard's token: %w", err)
	}
	return token, true, nil
}

// readTokenFile reads a token from a file only its owner may read or
// change: whoever reads the token steers the rollouts.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("flag --token-file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("flag --token-file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("flag --token-file %q is not a regular file; want a file holding the token", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("flag --token-file %q has mode %04o: group or others may read or change it, and whoever reads it "+
			"steers your rollouts; run chmod 600 %s", path, perm, path)
	}
	raw, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("flag --token-file %q: %w", path, err)
	}
	token := strings.TrimSpace(string(raw))
	if len(token) < minTokenLength || !tokenChars.MatchString(token) {
		return "", fmt.Errorf("flag --token-file %q: the token must be at least %d of the characters A-Z a-z 0-9 . _ ~ - on one line; "+
			"make one with: (umask 077; openssl rand -hex 32 > %s)", path, minTokenLength, path)
	}
	return token, nil
}

func randomHex() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return hex.EncodeToString(raw), nil
}

// csrfFor binds the page's CSRF token to the bearer token: only a browser
// that was let in gets a page that carries it.
func csrfFor(token string) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("canaryctl dashboard CSRF token"))
	return hex.EncodeToString(mac.Sum(nil))
}

// signedIn reports whether r carries the dashboard's token, as a bearer
// Authorization header (scripts) or as the login cookie (the page).
func (d *dashboard) signedIn(r *http.Request) bool {
	got := ""
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = auth
	} else if c, err := r.Cookie(d.cookie); err == nil {
		got = c.Value
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(d.bearer)) == 1
}

// unauthorized refuses a request without the token.
func (d *dashboard) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="canaryctl dashboard"`)
	http.Error(w, fmt.Sprintf("this dashboard needs its token: open the sign-in address canaryctl printed at start (%s%s?token=…), "+
		"or send Authorization: Bearer TOKEN", d.home, loginPath), http.StatusUnauthorized)
}

// login sets the cookie that lets the page in and sends the browser to it,
// so that the token leaves the address bar.
func (d *dashboard) login(w http.ResponseWriter, r *http.Request) {
	got := r.URL.Query().Get("token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(d.bearer)) != 1 {
		d.unauthorized(w)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: d.cookie, Value: d.bearer, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// crossOrigin says why a request that changes something did not come from
// the dashboard's own page, or "" if it did. The page's origin is built
// from the allowed hosts, never from the request's Host. A request with
// none of the headers is no browser's: the CSRF token still decides.
func (d *dashboard) crossOrigin(r *http.Request) string {
	own := d.home + "/"
	if origin := r.Header.Get("Origin"); origin != "" {
		if d.origins[strings.ToLower(origin)] {
			return ""
		}
		return fmt.Sprintf("cross-origin request from %q refused: only this dashboard's own page (%s) may act", origin, own)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		if site == "same-origin" {
			return ""
		}
		return fmt.Sprintf("cross-origin request refused: Sec-Fetch-Site is %q, not same-origin; only this dashboard's own page (%s) may act", site, own)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		if u, err := url.Parse(ref); err == nil && d.origins[strings.ToLower(u.Scheme)+"://"+canonicalHost(u.Host)] {
			return ""
		}
		return fmt.Sprintf("cross-origin request from Referer %q refused: only this dashboard's own page (%s) may act", ref, own)
	}
	return ""
}
