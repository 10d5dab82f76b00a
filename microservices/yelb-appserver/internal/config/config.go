// Package config reads the app server's settings from the environment. The
// defaults are the original Yelb ones (yelb-db:5432, redis-server:6379, user
// postgres, database yelbdatabase, port 4567), so the server runs unchanged in
// the sample namespace while every value can be overridden.
package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is everything the server needs to start.
type Config struct {
	ListenAddr string

	DBEndpoint string // host:port
	DBUser     string
	DBPassword string
	DBName     string
	DBSSLMode  string
	DBMaxConns int32

	RedisEndpoint string // host:port
	RedisPassword string

	AppVersion   string // the canary version this pod belongs to
	BuildVersion string // stamped into the binary at build time

	RequestTimeout  time.Duration
	ShutdownDelay   time.Duration // time to keep serving after SIGTERM while endpoints drain
	ShutdownTimeout time.Duration
	LogLevel        string
}

const (
	defaultDBPort    = "5432"
	defaultRedisPort = "6379"
)

// Load builds a Config from getenv (os.Getenv in production). Every error
// names the variable, the value and what is accepted.
func Load(getenv func(string) string, buildVersion string) (Config, error) {
	c := Config{
		ListenAddr:      orDefault(getenv("LISTEN_ADDR"), ":4567"),
		DBUser:          orDefault(getenv("YELB_DB_USER"), "postgres"),
		DBPassword:      getenv("YELB_DB_PASSWORD"),
		DBName:          orDefault(getenv("YELB_DB_NAME"), "yelbdatabase"),
		DBSSLMode:       orDefault(getenv("YELB_DB_SSLMODE"), "disable"),
		RedisPassword:   getenv("REDIS_PASSWORD"),
		AppVersion:      orDefault(getenv("APP_VERSION"), "unknown"),
		BuildVersion:    orDefault(buildVersion, "dev"),
		LogLevel:        strings.ToLower(orDefault(getenv("LOG_LEVEL"), "info")),
		RequestTimeout:  5 * time.Second,
		ShutdownDelay:   5 * time.Second,
		ShutdownTimeout: 20 * time.Second,
		DBMaxConns:      10,
	}
	var err error
	if c.DBEndpoint, err = endpoint("YELB_DB_SERVER_ENDPOINT", orDefault(getenv("YELB_DB_SERVER_ENDPOINT"), "yelb-db"), defaultDBPort); err != nil {
		return Config{}, err
	}
	if c.RedisEndpoint, err = endpoint("REDIS_SERVER_ENDPOINT", orDefault(getenv("REDIS_SERVER_ENDPOINT"), "redis-server"), defaultRedisPort); err != nil {
		return Config{}, err
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return Config{}, fmt.Errorf("LISTEN_ADDR=%q is not host:port: %w; use e.g. \":4567\"", c.ListenAddr, err)
	}
	switch c.DBSSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return Config{}, fmt.Errorf("YELB_DB_SSLMODE=%q is not a PostgreSQL sslmode; use disable, allow, prefer, require, verify-ca or verify-full", c.DBSSLMode)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, fmt.Errorf("LOG_LEVEL=%q is not a level; use debug, info, warn or error", c.LogLevel)
	}
	if v := getenv("YELB_DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return Config{}, fmt.Errorf("YELB_DB_MAX_CONNS=%q is not a connection count; use a whole number from 1 to 1000", v)
		}
		c.DBMaxConns = int32(n)
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"REQUEST_TIMEOUT", &c.RequestTimeout},
		{"SHUTDOWN_DELAY", &c.ShutdownDelay},
		{"SHUTDOWN_TIMEOUT", &c.ShutdownTimeout},
	} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed < 0 {
			return Config{}, fmt.Errorf("%s=%q is not a duration; use e.g. \"5s\" or \"500ms\"", d.name, v)
		}
		*d.dst = parsed
	}
	if c.RequestTimeout == 0 {
		return Config{}, fmt.Errorf("REQUEST_TIMEOUT=%q must be above zero; use e.g. \"5s\"", getenv("REQUEST_TIMEOUT"))
	}
	return c, nil
}

// endpoint accepts "host" or "host:port", as the original's
// YELB_DB_SERVER_ENDPOINT and REDIS_SERVER_ENDPOINT held bare host names.
func endpoint(name, value, defaultPort string) (string, error) {
	if strings.Contains(value, "://") || strings.ContainsAny(value, "/ ") {
		return "", fmt.Errorf("%s=%q is not a host or host:port; use e.g. \"yelb-db\" or \"yelb-db:5432\"", name, value)
	}
	host, port, err := net.SplitHostPort(value)
	if err != nil {
		host, port = value, defaultPort
	}
	if host == "" {
		return "", fmt.Errorf("%s=%q has no host; use e.g. \"yelb-db\" or \"yelb-db:5432\"", name, value)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%s=%q has port %q; use a port from 1 to 65535", name, value, port)
	}
	return net.JoinHostPort(host, port), nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
