package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server owned by one test.
type Postgres struct {
	Port     int
	User     string // database superuser
	Password string

	bin     string
	dir     string
	data    string
	logPath string
	cred    *syscall.Credential
	proc    *process
}

// StartPostgres initialises a cluster (password authentication over TCP,
// no Unix socket) and starts it; the test's cleanup stops it and removes
// its files.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := newPostgres()
	if err != nil {
		tb.Fatalf("postgres for tests: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Stop(); err != nil {
			tb.Errorf("stop postgres: %v", err)
		}
		os.RemoveAll(p.dir)
	})
	if err := p.Start(); err != nil {
		tb.Fatalf("postgres for tests: %v", err)
	}
	return p
}

// postgresBin finds initdb and postgres: POSTGRES_BIN_DIR, else the newest
// Debian installation.
func postgresBin() (string, error) {
	if dir := os.Getenv("POSTGRES_BIN_DIR"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; install the Debian package postgresql or set POSTGRES_BIN_DIR")
}

func newPostgres() (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "yelb-pg-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	secret := make([]byte, 12)
	_, _ = rand.Read(secret)
	p := &Postgres{
		User: "postgres", Password: hex.EncodeToString(secret),
		bin: bin, dir: dir, data: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "postgres.log"),
	}
	if os.Geteuid() == 0 {
		name := os.Getenv("POSTGRES_OS_USER")
		if name == "" {
			name = "postgres"
		}
		u, err := user.Lookup(name)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("PostgreSQL refuses to run as root and system user %q is missing (%v); install the Debian package postgresql or set POSTGRES_OS_USER", name, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("hand %s to %s: %w", dir, name, err)
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := p.writeOwned(pwfile, p.Password+"\n"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", p.data, "-U", p.User, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.Port = port
	return p, nil
}

func (p *Postgres) writeOwned(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if p.cred != nil {
		if err := os.Chown(path, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

// Endpoint is host:port for clients.
func (p *Postgres) Endpoint() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// ConnString is a libpq URL for database.
func (p *Postgres) ConnString(database string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Password, p.Port, database)
}

// Start runs the server on p.Port and waits until it accepts logins.
func (p *Postgres) Start() error {
	if p.proc != nil && !p.proc.exited() {
		return fmt.Errorf("postgres on port %d is already running", p.Port)
	}
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data, "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=250")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	proc, err := startProcess(cmd, p.logPath)
	if err != nil {
		return err
	}
	p.proc = proc
	if err := waitTCP(p.Endpoint(), proc, 30*time.Second); err != nil {
		return fmt.Errorf("postgres: %w\n%s", err, tail(p.logPath))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, p.ConnString("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if time.Now().After(deadline) || proc.exited() {
			return fmt.Errorf("postgres never accepted a login: %w\n%s", err, tail(p.logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the server down fast (SIGINT: active sessions are cut), as a
// crash or a node loss would look to the app server.
func (p *Postgres) Stop() error {
	if p.proc == nil {
		return nil
	}
	return p.proc.stop(syscall.SIGINT, 30*time.Second)
}

// Exec runs one or more SQL statements in database as the superuser.
func (p *Postgres) Exec(ctx context.Context, database, sql string) error {
	conn, err := pgx.Connect(ctx, p.ConnString(database))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", database, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("exec in %s: %w", database, err)
	}
	return nil
}

// QueryInt runs a query returning one integer.
func (p *Postgres) QueryInt(ctx context.Context, database, sql string, args ...any) (int64, error) {
	conn, err := pgx.Connect(ctx, p.ConnString(database))
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", database, err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("query %q: %w", sql, err)
	}
	return n, nil
}
