// Command canaryctl shows and steers canary rollouts through the status
// ConfigMaps the canary engine keeps in the cluster. It works against any
// kubeconfig, like kubectl.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/status"
)

const usage = `canaryctl shows and steers canary rollouts.

Usage:
  canaryctl [flags] status [-A]            all rollouts in the namespace
  canaryctl [flags] watch NAME [--next] [--timeout D]
                                           live view until the rollout ends
  canaryctl [flags] history NAME           finished rollouts, newest first
  canaryctl [flags] pause NAME             hold the traffic weight
  canaryctl [flags] resume NAME            continue a paused rollout
  canaryctl [flags] promote NAME           skip the remaining steps, send all traffic to the canary
  canaryctl [flags] abort NAME             roll back to the stable version
  canaryctl [flags] recover NAME           finish a roll back that failed, once its cause is fixed
  canaryctl [flags] dashboard [-A] [--addr HOST:PORT]
            [--allow-remote --host NAME] [--token-file PATH]
                                           live web page of every rollout, with pause, resume,
                                           promote and abort

The engine honours pause, resume, promote and abort at its next step.
recover acts at once, with the engine's own roll back: it needs the
engine's permissions in the namespace.

Flags (anywhere on the line):
  --kubeconfig PATH     kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME        kubeconfig context (default: the current context)
  -n, --namespace NS    application namespace (default: the context's namespace)
  -A, --all-namespaces  status, dashboard: every namespace
  --next                watch: if the last rollout has finished, wait for the next one
  --timeout D           watch: give up after D (for example 30m); 0 waits forever
  --addr HOST:PORT      dashboard: where to listen (default 127.0.0.1:8080; a loopback address,
                        which answers to localhost, 127.0.0.1 and [::1] only and asks for no token)
  --allow-remote        dashboard: allow a non-loopback --addr; it then needs --host and asks
                        every request for a token (prefer an SSH tunnel to a loopback one)
  --host NAME[:PORT]    dashboard: a name browsers reach a non-loopback dashboard by; repeat or
                        separate with commas. Any other Host is refused
  --token-file PATH     dashboard: the token to ask for, from a file only you may read (chmod 600);
                        without it a non-loopback dashboard prints a new sign-in address on stderr

Exit codes:
  0  done; watch: the rollout succeeded; recover: rolled back, lock released
  1  error reading the kubeconfig or talking to the cluster; recover: the roll
     back failed again (the status stays Failed, the lock held)
  2  bad command line
  3  unknown microservice (no rollout status in the namespace)
  4  request refused by the rollout's state (nothing was changed); recover:
     no failed roll back to recover
  5  watch: the rollout was rolled back
  6  watch: the rollout failed and needs an operator: its roll back did not
     complete (fix the cause, then run recover)
  7  watch: --timeout passed before the rollout ended
  8  watch: the API server refused the new version before anything was written
  130 interrupted
`

// invocation is a parsed command line.
type invocation struct {
	command       string
	name          string
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
	next          bool
	timeout       time.Duration
	addr          string
	allowRemote   bool
	hosts         string // --host names, comma-separated
	tokenFile     string
}

// commandFlags lists the command-specific flags each command accepts.
var commandFlags = map[string][]string{
	"status":    {"A", "all-namespaces"},
	"watch":     {"next", "timeout"},
	"history":   nil,
	"pause":     nil,
	"resume":    nil,
	"promote":   nil,
	"abort":     nil,
	"recover":   nil,
	"dashboard": {"A", "all-namespaces", "addr", "allow-remote", "host", "token-file"},
}

var globalFlags = []string{"kubeconfig", "context", "n", "namespace"}

// parseArgs accepts flags before, between and after the positional
// arguments, as kubectl users expect.
func parseArgs(args []string) (invocation, error) {
	var inv invocation
	fs := flag.NewFlagSet("canaryctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&inv.kubeconfig, "kubeconfig", "", "")
	fs.StringVar(&inv.context, "context", "", "")
	fs.StringVar(&inv.namespace, "n", "", "")
	fs.StringVar(&inv.namespace, "namespace", "", "")
	fs.BoolVar(&inv.allNamespaces, "A", false, "")
	fs.BoolVar(&inv.allNamespaces, "all-namespaces", false, "")
	fs.BoolVar(&inv.next, "next", false, "")
	fs.DurationVar(&inv.timeout, "timeout", 0, "")
	fs.StringVar(&inv.addr, "addr", "", "")
	fs.BoolVar(&inv.allowRemote, "allow-remote", false, "")
	fs.Var(hostsFlag{&inv.hosts}, "host", "")
	fs.StringVar(&inv.tokenFile, "token-file", "", "")

	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return inv, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) == 0 {
		return inv, errors.New("no command given; want one of status, watch, history, pause, resume, promote, abort, recover, dashboard")
	}
	inv.command = positional[0]
	if inv.command == "help" {
		return inv, flag.ErrHelp
	}
	allowed, ok := commandFlags[inv.command]
	if !ok {
		return inv, fmt.Errorf("unknown command %q; want one of status, watch, history, pause, resume, promote, abort, recover, dashboard", inv.command)
	}
	var badFlag error
	fs.Visit(func(f *flag.Flag) {
		if badFlag == nil && !slices.Contains(globalFlags, f.Name) && !slices.Contains(allowed, f.Name) {
			badFlag = fmt.Errorf("flag -%s does not apply to %s", f.Name, inv.command)
		}
	})
	if badFlag != nil {
		return inv, badFlag
	}
	if inv.timeout < 0 {
		return inv, fmt.Errorf("flag --timeout is %s; want a positive duration such as 30m, or 0 to wait forever", inv.timeout)
	}
	if inv.allNamespaces && inv.namespace != "" {
		return inv, errors.New("flags -n and -A exclude each other; drop one")
	}
	args = positional[1:]
	named := inv.command != "status" && inv.command != "dashboard"
	switch {
	case !named && len(args) > 0:
		return inv, fmt.Errorf("%s takes no microservice name, got %q; use watch %s for one rollout", inv.command, strings.Join(args, " "), args[0])
	case named && len(args) == 0:
		return inv, fmt.Errorf("%s needs the microservice name: canaryctl %s NAME", inv.command, inv.command)
	case named && len(args) > 1:
		return inv, fmt.Errorf("%s takes one microservice name, got %d: %s", inv.command, len(args), strings.Join(args, " "))
	case named:
		inv.name = args[0]
	}
	if inv.command == "dashboard" {
		if inv.addr == "" {
			inv.addr = defaultDashboardAddr
		}
		if err := checkDashboardFlags(inv); err != nil {
			return inv, err
		}
	}
	return inv, nil
}

// connect builds a client from the kubeconfig with kubectl's loading rules.
func connect(inv invocation) (typed.Interface, *rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = inv.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: inv.context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, "", fmt.Errorf("read kubeconfig (set --kubeconfig or KUBECONFIG): %w", err)
	}
	namespace := inv.namespace
	if namespace == "" && !inv.allNamespaces {
		if namespace, _, err = cc.Namespace(); err != nil {
			return nil, nil, "", fmt.Errorf("read the context's namespace from the kubeconfig: %w", err)
		}
	}
	client, err := typed.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("build client for %s: %w", cfg.Host, err)
	}
	return client, cfg, namespace, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	inv, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "canaryctl: %v\nRun 'canaryctl help' for usage.\n", err)
		return exitUsage
	}
	client, cfg, namespace, err := connect(inv)
	if err != nil {
		return report(stderr, err)
	}
	ops := status.NewOperator(client)
	switch inv.command {
	case "dashboard":
		return serveDashboard(ctx, ops, client, namespace, inv, stdout, stderr)
	case "status":
		snaps, err := ops.Snapshots(ctx, namespace)
		if err != nil {
			return report(stderr, err)
		}
		if len(snaps) == 0 {
			where := fmt.Sprintf("namespace %q", namespace)
			if inv.allNamespaces {
				where = "any namespace"
			}
			fmt.Fprintf(stderr, "No rollouts in %s.\n", where)
			return exitOK
		}
		fmt.Fprint(stdout, StatusTable(snaps, time.Now(), inv.allNamespaces))
		return exitOK
	case "history":
		records, err := ops.History(ctx, namespace, inv.name)
		if err != nil {
			return report(stderr, err)
		}
		if len(records) == 0 {
			fmt.Fprintf(stderr, "%s has no finished rollouts yet.\n", inv.name)
			return exitOK
		}
		fmt.Fprint(stdout, HistoryTable(records))
		return exitOK
	case "watch":
		out := newScreen(stdout)
		return watchRollout(ctx, client, namespace, inv, out, stderr)
	case "recover":
		eng := &engine.Engine{
			Connector: &engine.RESTConnector{Source: func(context.Context, string) (*rest.Config, error) { return cfg, nil }},
			Routers:   routers.All(),
			Log:       slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}
		st, err := eng.Recover(ctx, "", namespace, inv.name)
		if err != nil {
			return report(stderr, err)
		}
		fmt.Fprintln(stdout, Recovered(st))
		return exitOK
	default:
		msg, code := request(ctx, ops, namespace, inv.name, status.Action(inv.command))
		if code != exitOK {
			fmt.Fprintln(stderr, msg)
			return code
		}
		fmt.Fprintln(stdout, msg)
		return exitOK
	}
}

// request asks for action on a rollout; it is the pause, resume, promote
// and abort commands and the dashboard's buttons alike. It returns what the
// command prints and its exit code.
func request(ctx context.Context, ops *status.Operator, namespace, microservice string, action status.Action) (string, int) {
	snap, err := ops.Request(ctx, namespace, microservice, action)
	if err != nil {
		return describe(err)
	}
	return Requested(action, snap.Status), exitOK
}

// report prints err and returns the exit code its kind calls for.
func report(stderr io.Writer, err error) int {
	msg, code := describe(err)
	fmt.Fprintln(stderr, msg)
	return code
}

// describe is the message canaryctl prints for err and its exit code.
func describe(err error) (string, int) {
	var notFound *status.NotFoundError
	var refused *status.RefusedError
	var nothing *engine.RecoverRefusedError
	switch {
	case errors.As(err, &nothing):
		return fmt.Sprintf("canaryctl: %v; nothing was changed", nothing), exitRefused
	case errors.As(err, &notFound):
		return fmt.Sprintf("canaryctl: %v", notFound), exitNotFound
	case errors.As(err, &refused):
		return fmt.Sprintf("canaryctl: %v; nothing was changed", refused), exitRefused
	default:
		return fmt.Sprintf("canaryctl: %v", err), exitError
	}
}

// isTerminal reports whether w is a terminal, and its width.
func isTerminal(w io.Writer) (bool, func() int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, nil
	}
	return true, func() int {
		width, _, err := term.GetSize(int(f.Fd()))
		if err != nil || width <= 0 {
			return 80
		}
		return width
	}
}
