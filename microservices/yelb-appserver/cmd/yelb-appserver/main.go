// Command yelb-appserver is the Yelb API server: votes in PostgreSQL, page
// views in Redis, port 4567.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/eks-canary/yelb-appserver/internal/app"
	"github.com/eks-canary/yelb-appserver/internal/config"
)

// buildVersion is stamped by the image build: -ldflags "-X main.buildVersion=...".
var buildVersion string

func main() {
	cfg, err := config.Load(os.Getenv, buildVersion)
	if err != nil {
		fmt.Fprintln(os.Stderr, "yelb-appserver: configuration:", err)
		os.Exit(2)
	}
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	log := app.NewLogger(cfg, hostname, os.Stdout)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, log, hostname); err != nil {
		log.Error("stopped", "error", err.Error())
		os.Exit(1)
	}
}
