package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HTTP is one webhook call's settings.
type HTTP struct {
	URL     string
	Timeout time.Duration // each request
	Retries int           // further attempts after a failed one
	// Backoff is the pause between attempts; zero pauses one second.
	Backoff time.Duration
}

// bodyLimit is how much of a response the engine reads.
const bodyLimit = 4 << 10

// Call posts payload to the webhook: a 2xx answer passes, anything else
// (another status, a timeout, a refused connection) is retried and then
// fails. The output is the last response's body, or the error.
func Call(ctx context.Context, client *http.Client, h HTTP, payload Payload) Result {
	body, err := json.Marshal(payload)
	if err != nil {
		return Result{Output: Excerpt("encode the payload: " + err.Error())}
	}
	if client == nil {
		client = http.DefaultClient
	}
	backoff := h.Backoff
	if backoff == 0 {
		backoff = time.Second
	}
	var last Result
	for attempt := 0; attempt <= h.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return Result{Output: Excerpt(fmt.Sprintf("%s; then: %v", last.Output, ctx.Err()))}
			case <-time.After(backoff):
			}
		}
		last = post(ctx, client, h, body)
		if last.Passed {
			return last
		}
		if attempt > 0 {
			last.Output = Excerpt(fmt.Sprintf("after %d attempts: %s", attempt+1, last.Output))
		}
	}
	return last
}

func post(ctx context.Context, client *http.Client, h HTTP, body []byte) Result {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Output: Excerpt("build the request: " + err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Result{Output: Excerpt(fmt.Sprintf("POST %s: no answer within %s (timeout)", h.URL, h.Timeout))}
		}
		return Result{Output: Excerpt(fmt.Sprintf("POST %s: %v", h.URL, err))}
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	out := string(text)
	if !ok {
		out = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, text)
	}
	return Result{Passed: ok, Output: Excerpt(out)}
}
