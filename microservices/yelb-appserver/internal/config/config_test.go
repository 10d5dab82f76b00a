package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsMatchOriginalYelb(t *testing.T) {
	c, err := Load(env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ListenAddr: ":4567", DBEndpoint: "yelb-db:5432", DBUser: "postgres", DBName: "yelbdatabase",
		DBSSLMode: "disable", DBMaxConns: 10, RedisEndpoint: "redis-server:6379", AppVersion: "unknown",
		BuildVersion: "dev", RequestTimeout: 5 * time.Second, ShutdownDelay: 5 * time.Second,
		ShutdownTimeout: 20 * time.Second, LogLevel: "info",
	}
	if c != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadOverrides(t *testing.T) {
	c, err := Load(env(map[string]string{
		"YELB_DB_SERVER_ENDPOINT": "db.example.internal",
		"REDIS_SERVER_ENDPOINT":   "10.0.0.7:6380",
		"YELB_DB_USER":            "yelb",
		"YELB_DB_PASSWORD":        "s3cret",
		"YELB_DB_NAME":            "votes",
		"YELB_DB_MAX_CONNS":       "25",
		"APP_VERSION":             "7",
		"REQUEST_TIMEOUT":         "750ms",
		"SHUTDOWN_DELAY":          "0s",
		"LOG_LEVEL":               "DEBUG",
		"LISTEN_ADDR":             "127.0.0.1:0",
	}), "abc123")
	if err != nil {
		t.Fatal(err)
	}
	if c.DBEndpoint != "db.example.internal:5432" || c.RedisEndpoint != "10.0.0.7:6380" {
		t.Errorf("endpoints = %q, %q", c.DBEndpoint, c.RedisEndpoint)
	}
	if c.DBUser != "yelb" || c.DBPassword != "s3cret" || c.DBName != "votes" || c.DBMaxConns != 25 {
		t.Errorf("db settings = %+v", c)
	}
	if c.AppVersion != "7" || c.BuildVersion != "abc123" || c.LogLevel != "debug" {
		t.Errorf("versions/log = %q %q %q", c.AppVersion, c.BuildVersion, c.LogLevel)
	}
	if c.RequestTimeout != 750*time.Millisecond || c.ShutdownDelay != 0 {
		t.Errorf("durations = %v %v", c.RequestTimeout, c.ShutdownDelay)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	cases := []struct {
		name, key, value, wantInError string
	}{
		{"url instead of host", "YELB_DB_SERVER_ENDPOINT", "postgres://yelb-db", "YELB_DB_SERVER_ENDPOINT=\"postgres://yelb-db\""},
		{"port out of range", "REDIS_SERVER_ENDPOINT", "redis-server:70000", "port \"70000\""},
		{"empty host", "REDIS_SERVER_ENDPOINT", ":6379", "has no host"},
		{"bad sslmode", "YELB_DB_SSLMODE", "on", "YELB_DB_SSLMODE=\"on\""},
		{"bad log level", "LOG_LEVEL", "verbose", "LOG_LEVEL=\"verbose\""},
		{"bad max conns", "YELB_DB_MAX_CONNS", "0", "YELB_DB_MAX_CONNS=\"0\""},
		{"bad duration", "REQUEST_TIMEOUT", "5", "REQUEST_TIMEOUT=\"5\""},
		{"zero request timeout", "REQUEST_TIMEOUT", "0s", "must be above zero"},
		{"negative delay", "SHUTDOWN_DELAY", "-1s", "SHUTDOWN_DELAY=\"-1s\""},
		{"listen without port", "LISTEN_ADDR", "4567", "LISTEN_ADDR=\"4567\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.key: tc.value}), "")
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.key, tc.value)
			}
			if !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("error %q does not mention %q", err, tc.wantInError)
			}
		})
	}
}
