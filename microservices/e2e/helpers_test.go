package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eks-canary/yelb-appserver/testenv"
)

// microservices is the folder holding the four service folders.
func microservices(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// artifacts is where screenshots go: $YELB_E2E_ARTIFACTS, else build/ at the
// repository root (ignored by git).
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("YELB_E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(microservices(t), "..", "build")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// initDatabase runs the real yelb-db init script against pg.
func initDatabase(t *testing.T, pg *testenv.Postgres) {
	t.Helper()
	script := filepath.Join(microservices(t), "yelb-db", "docker-entrypoint-initdb.d", "10-yelb-db.sh")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(),
		"PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(pg.Port), "PGPASSWORD="+pg.Password,
		"POSTGRES_USER="+pg.User, "YELB_DB_NAME=yelbdatabase")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("yelb-db init script: %v\n%s", err, out)
	}
}

// appServer is the yelb-appserver binary running against pg and redis.
type appServer struct {
	url      string
	hostname string
}

func startAppServer(t *testing.T, pg *testenv.Postgres, rd *testenv.Redis, version string) *appServer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "yelb-appserver")
	build := exec.Command("go", "build", "-ldflags", "-X main.buildVersion=e2e-build", "-o", bin, "./cmd/yelb-appserver")
	build.Dir = filepath.Join(microservices(t), "yelb-appserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build yelb-appserver: %v\n%s", err, out)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "appserver.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"YELB_DB_SERVER_ENDPOINT="+pg.Endpoint(), "YELB_DB_PASSWORD="+pg.Password,
		"REDIS_SERVER_ENDPOINT="+rd.Endpoint(), "APP_VERSION="+version, "SHUTDOWN_DELAY=0s")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logFile.Close()
	})
	a := &appServer{url: "http://127.0.0.1:" + strconv.Itoa(port)}
	waitHTTP(t, a.url+"/readyz", logPath)
	a.hostname, _ = os.Hostname()
	return a
}

func waitHTTP(t *testing.T, url, logPath string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs, _ := os.ReadFile(logPath)
	t.Fatalf("%s never answered 200\n%s", url, logs)
}

// buildUI bundles yelb-ui into a temporary folder (or uses $YELB_UI_DIST).
func buildUI(t *testing.T) string {
	t.Helper()
	if dist := os.Getenv("YELB_UI_DIST"); dist != "" {
		return dist
	}
	ui := filepath.Join(microservices(t), "yelb-ui")
	if _, err := os.Stat(filepath.Join(ui, "node_modules", "chart.js")); err != nil {
		runCmd(t, ui, nil, "npm", "ci", "--no-audit", "--no-fund")
	}
	dist := filepath.Join(t.TempDir(), "dist")
	runCmd(t, ui, []string{"YELB_UI_OUT=" + dist}, "npm", "run", "build")
	return dist
}

func runCmd(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// renderTemplate does what the nginx image's envsubst step does: replace
// ${NAME} for the given names only, leaving nginx's own $variables.
func renderTemplate(t *testing.T, text string, vars map[string]string) string {
	t.Helper()
	for k, v := range vars {
		if !strings.Contains(text, "${"+k+"}") {
			t.Fatalf("template does not use ${%s}", k)
		}
		text = strings.ReplaceAll(text, "${"+k+"}", v)
	}
	if i := strings.Index(text, "${"); i >= 0 {
		t.Fatalf("template still has a placeholder after rendering: %q", text[i:min(len(text), i+40)])
	}
	return text
}

// startNginx serves dist with the yelb-ui nginx configuration, proxying /api
// to appserverURL.
func startNginx(t *testing.T, dist, appserverURL string) string {
	t.Helper()
	nginxBin := os.Getenv("NGINX_BIN")
	if nginxBin == "" {
		var err error
		if nginxBin, err = exec.LookPath("nginx"); err != nil {
			if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
				t.Fatal("nginx not found; install the Debian package nginx or set NGINX_BIN")
			}
			nginxBin = "/usr/sbin/nginx"
		}
	}
	tmpl, err := os.ReadFile(filepath.Join(microservices(t), "yelb-ui", "nginx", "default.conf.template"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	server := renderTemplate(t, string(tmpl), map[string]string{
		"YELB_UI_PORT":            "127.0.0.1:" + strconv.Itoa(port),
		"YELB_APPSERVER_ENDPOINT": appserverURL,
		// The image fills this from the pod's resolv.conf. Here nothing
		// answers DNS on 127.0.0.1, so a name that is not an IP address
		// never resolves, like a VPC Lattice name not yet in the zone.
		"NGINX_LOCAL_RESOLVERS": "127.0.0.1",
	})
	const imageRoot = "root /usr/share/nginx/html;"
	if strings.Count(server, imageRoot) != 1 {
		t.Fatalf("yelb-ui config must have exactly one %q line", imageRoot)
	}
	server = strings.Replace(server, imageRoot, "root "+dist+";", 1)

	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 128; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/default.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "default.conf"), []byte(server), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginxBin, "-t", "-p", dir, "-e", dir+"/error.log", "-c", dir+"/nginx.conf").CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the yelb-ui config: %v\n%s", err, out)
	}
	cmd := exec.Command(nginxBin, "-p", dir, "-e", dir+"/error.log", "-c", dir+"/nginx.conf")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	waitHTTP(t, url+"/healthz", filepath.Join(dir, "error.log"))
	return url
}
