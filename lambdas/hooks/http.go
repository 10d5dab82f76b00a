package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
// (another status, a redirect, a timeout, a refused connection) is retried
// and then fails; an unusable URL or an address the dialer refuses fails
// at once. The output is the last response's body, or the error;
// of the URL it shows only scheme://host:port. client nil is Client with
// no private network allowed; whatever the client, redirects are not
// followed.
func Call(ctx context.Context, client *http.Client, h HTTP, payload Payload) Result {
	body, err := json.Marshal(payload)
	if err != nil {
		return Result{Output: Excerpt("encode the payload: " + err.Error())}
	}
	if client == nil {
		client = Client(nil, nil)
	}
	c := *client
	c.CheckRedirect = noRedirects
	client = &c
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
		var final bool
		last, final = post(ctx, client, h, body)
		if last.Passed || final {
			return last
		}
		if attempt > 0 {
			last.Output = Excerpt(fmt.Sprintf("after %d attempts: %s", attempt+1, last.Output))
		}
	}
	return last
}

// post makes one attempt; final reports that another cannot answer
// otherwise: the URL cannot be used, or the dialer refused its address.
func post(ctx context.Context, client *http.Client, h HTTP, body []byte) (res Result, final bool) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	shown := RedactURL(h.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Output: Excerpt(fmt.Sprintf("the URL cannot be used: %v", withoutURL(err)))}, true
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Result{Output: Excerpt(fmt.Sprintf("POST %s: no answer within %s (timeout)", shown, h.Timeout))}, false
		}
		var r *RefusedError
		return Result{Output: scrub(fmt.Sprintf("POST %s: %v", shown, withoutURL(err)), h.URL)}, errors.As(err, &r)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	out := string(text)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		to := RedactURL(resp.Header.Get("Location"))
		if to != "" {
			to = " to " + to
		}
		out = fmt.Sprintf("HTTP %d: a redirect%s, which webhooks do not follow: give the URL that answers itself", resp.StatusCode, to)
	case !ok:
		out = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, text)
	}
	return Result{Passed: ok, Output: scrub(out, h.URL)}, false
}

// withoutURL drops the request URL net/http puts in its errors
// (Post "https://user:pass@host/token": ...), keeping the cause.
func withoutURL(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

// scrub removes the URL beyond scheme://host:port wherever the output
// shows it, as when a server echoes the request line, and cuts the output.
func scrub(out, raw string) string {
	if raw == "" {
		return Excerpt(out)
	}
	out = strings.ReplaceAll(out, raw, RedactURL(raw))
	if u, err := url.Parse(raw); err == nil {
		if path := u.RequestURI(); len(path) > 1 {
			out = strings.ReplaceAll(out, path, "/…")
		}
	}
	return Excerpt(out)
}
