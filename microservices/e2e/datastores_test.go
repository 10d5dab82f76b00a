package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/yelb-appserver/testenv"
)

// The yelb-db init script creates the schema with four restaurants at zero,
// and running it again changes nothing (existing votes are kept).
func TestYelbDBInitScriptIsIdempotent(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	initDatabase(t, pg)

	check := func(when string, want map[string]int64) {
		t.Helper()
		n, err := pg.QueryInt(ctx, "yelbdatabase", "SELECT count(*) FROM restaurants")
		if err != nil || n != 4 {
			t.Fatalf("%s: %d restaurants (%v), want 4", when, n, err)
		}
		for name, votes := range want {
			got, err := pg.QueryInt(ctx, "yelbdatabase", "SELECT count FROM restaurants WHERE name = $1", name)
			if err != nil || got != votes {
				t.Fatalf("%s: %s has %d votes (%v), want %d", when, name, got, err, votes)
			}
		}
	}
	check("first run", map[string]int64{"outback": 0, "bucadibeppo": 0, "chipotle": 0, "ihop": 0})
	width, err := pg.QueryInt(ctx, "yelbdatabase",
		"SELECT character_maximum_length FROM information_schema.columns WHERE table_name = 'restaurants' AND column_name = 'name'")
	if err != nil || width != 30 {
		t.Fatalf("name column width = %d (%v), want char(30)", width, err)
	}

	if err := pg.Exec(ctx, "yelbdatabase", "UPDATE restaurants SET count = 7 WHERE name = 'ihop'"); err != nil {
		t.Fatal(err)
	}
	initDatabase(t, pg)
	check("second run", map[string]int64{"ihop": 7, "chipotle": 0})
}

// The redis-server configuration keeps the page-view counter across a
// restart through its append-only file.
func TestRedisConfigPersistsAcrossRestart(t *testing.T) {
	conf := filepath.Join(microservices(t), "redis-server", "redis.conf")
	rd := testenv.StartRedis(t, conf)
	send := func(cmd ...string) string {
		t.Helper()
		c, err := net.DialTimeout("tcp", rd.Endpoint(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var b strings.Builder
		b.WriteString("*" + strconv.Itoa(len(cmd)) + "\r\n")
		for _, a := range cmd {
			b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(buf[:n]))
	}
	if got := send("CONFIG", "GET", "appendonly"); !strings.Contains(got, "yes") {
		t.Fatalf("appendonly from redis.conf = %q", got)
	}
	for range 5 {
		send("INCR", "pageviews")
	}
	if err := rd.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(rd.Dir(), "appendonlydir")); err != nil {
		t.Fatalf("no append-only files on the volume: %v", err)
	}
	if err := rd.Start(); err != nil {
		t.Fatal(err)
	}
	// Redis answers -LOADING while it replays the append-only file.
	got := send("GET", "pageviews")
	for deadline := time.Now().Add(10 * time.Second); strings.HasPrefix(got, "-LOADING") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		got = send("GET", "pageviews")
	}
	if got != "$1\r\n5" {
		t.Fatalf("pageviews after restart = %q, want 5", got)
	}
}
