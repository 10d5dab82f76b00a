// Package app wires the configuration, the store pools and the HTTP server,
// and runs them until the context ends (SIGTERM in production).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eks-canary/yelb-appserver/internal/config"
	"github.com/eks-canary/yelb-appserver/internal/httpapi"
	"github.com/eks-canary/yelb-appserver/internal/pageviews"
	"github.com/eks-canary/yelb-appserver/internal/votes"
)

// NewLogger returns the JSON logger every line of which names the service,
// its version and the pod.
func NewLogger(cfg config.Config, hostname string, out io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})).With(
		"microservice", "yelb-appserver", "version", cfg.AppVersion, "build", cfg.BuildVersion, "hostname", hostname)
}

// OpenPostgres makes the pool lazily: the server starts (and reports not
// ready) even while the database is still coming up.
func OpenPostgres(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	host, port, _ := net.SplitHostPort(cfg.DBEndpoint)
	pc, err := pgxpool.ParseConfig(DSN(map[string]string{
		"host": host, "port": port, "user": cfg.DBUser, "password": cfg.DBPassword, "dbname": cfg.DBName,
		"sslmode": cfg.DBSSLMode, "connect_timeout": "3", "application_name": "yelb-appserver",
	}))
	if err != nil {
		return nil, fmt.Errorf("postgres settings for %s: %w", cfg.DBEndpoint, err)
	}
	pc.MaxConns = cfg.DBMaxConns
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.HealthCheckPeriod = 15 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres pool for %s: %w", cfg.DBEndpoint, err)
	}
	return pool, nil
}

// DSN renders libpq keyword/value settings, quoting every value so that a
// password with spaces or quotes survives.
func DSN(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := strings.ReplaceAll(strings.ReplaceAll(kv[k], `\`, `\\`), `'`, `\'`)
		b.WriteString(k + "='" + v + "'")
	}
	return b.String()
}

// OpenRedis makes the client; like the pool it connects on first use.
func OpenRedis(cfg config.Config) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         cfg.RedisEndpoint,
		Password:     cfg.RedisPassword,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   1,
		// One dial attempt per command: during an outage the request fails
		// fast with 503 instead of waiting through five dial back-offs.
		DialerRetries: 1,
		PoolSize:      int(cfg.DBMaxConns),
	})
}

// redisLog sends the client library's own messages to the JSON log.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis-client")
}

// Run serves until ctx ends, then drains: readiness fails at once, requests
// keep being served for cfg.ShutdownDelay so that endpoints are updated,
// then the server stops accepting and waits for in-flight requests.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, hostname string) error {
	pool, err := OpenPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	redis.SetLogger(redisLog{log})
	rdb := OpenRedis(cfg)
	defer rdb.Close()

	api := httpapi.New(votes.NewStore(pool), pageviews.NewCounter(rdb),
		httpapi.Identity{Hostname: hostname, Version: cfg.AppVersion, Build: cfg.BuildVersion}, log, cfg.RequestTimeout)

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "postgres", cfg.DBEndpoint, "redis", cfg.RedisEndpoint)

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutdown requested; draining", "delay", cfg.ShutdownDelay.String())
	api.Drain()
	time.Sleep(cfg.ShutdownDelay)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down within %s: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shutdown complete")
	return nil
}
