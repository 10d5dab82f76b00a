package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEveryEndpointAgainstRealStores(t *testing.T) {
	s := newStack(t)

	zero := `[{"name": "outback", "value": 0},{"name": "bucadibeppo", "value": 0},{"name": "ihop", "value": 0}, {"name": "chipotle", "value": 0}]`
	r := call(t, "GET", s.url+"/api/getvotes")
	if r.status != 200 || r.body != zero || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("getvotes on a fresh database = %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}

	votes := []struct{ method, name, want string }{
		{"GET", "ihop", "1"}, {"POST", "ihop", "2"}, {"GET", "chipotle", "1"},
		{"POST", "outback", "1"}, {"GET", "bucadibeppo", "1"}, {"GET", "ihop", "3"},
	}
	for _, v := range votes {
		r := call(t, v.method, s.url+"/api/"+v.name)
		if r.status != 200 || r.body != v.want {
			t.Fatalf("%s /api/%s = %d %q, want 200 %q", v.method, v.name, r.status, r.body, v.want)
		}
	}
	want := `[{"name": "outback", "value": 1},{"name": "bucadibeppo", "value": 1},{"name": "ihop", "value": 3}, {"name": "chipotle", "value": 1}]`
	if r := call(t, "GET", s.url+"/api/getvotes"); r.status != 200 || r.body != want {
		t.Fatalf("getvotes after votes = %d %q\nwant %q", r.status, r.body, want)
	}
	if n, err := s.pg.QueryInt(context.Background(), "yelbdatabase", "SELECT count FROM restaurants WHERE name = 'ihop'"); err != nil || n != 3 {
		t.Fatalf("ihop in the database = %d, %v; want 3", n, err)
	}

	if r := call(t, "GET", s.url+"/api/pageviews"); r.status != 200 || r.body != "1" {
		t.Fatalf("first pageviews = %d %q", r.status, r.body)
	}
	r = call(t, "GET", s.url+"/api/getstats")
	var st struct {
		Hostname  string `json:"hostname"`
		Pageviews int64  `json:"pageviews"`
		Version   string `json:"version"`
		Build     string `json:"build"`
	}
	if err := json.Unmarshal([]byte(r.body), &st); err != nil || r.status != 200 {
		t.Fatalf("getstats = %d %q: %v", r.status, r.body, err)
	}
	if st.Hostname != "yelb-appserver-7-abcde" || st.Pageviews != 2 || st.Version != "7" || st.Build != "build-abc" {
		t.Fatalf("getstats = %+v; it also increments page views", st)
	}
	if r := call(t, "GET", s.url+"/api/pageviews"); r.body != "3" {
		t.Fatalf("pageviews after getstats = %q, want 3", r.body)
	}

	r = call(t, "GET", s.url+"/api/hostname")
	if r.status != 200 || r.body != "yelb-appserver-7-abcde" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("hostname = %d %q %q, want the bare name as application/json like the original", r.status, r.header.Get("Content-Type"), r.body)
	}
	for h, v := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET,POST,PUT,DELETE,OPTIONS",
		"X-Yelb-Appserver-Hostname":    "yelb-appserver-7-abcde",
		"X-Yelb-Appserver-Version":     "7",
		"X-Yelb-Appserver-Build":       "build-abc",
	} {
		if got := r.header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}

	for _, method := range []string{"GET", "POST"} {
		r := call(t, method, s.url+"/api/pizzahut")
		var body struct {
			Error       string   `json:"error"`
			Restaurants []string `json:"restaurants"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != 404 {
			t.Fatalf("%s unknown restaurant = %d %q (%v)", method, r.status, r.body, err)
		}
		if !strings.Contains(body.Error, `"pizzahut"`) || len(body.Restaurants) != 4 {
			t.Fatalf("unknown restaurant message = %+v", body)
		}
	}

	r = call(t, "OPTIONS", s.url+"/api/ihop")
	if r.status != 200 || !strings.Contains(r.header.Get("Allow"), "POST") || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight = %d %v", r.status, r.header)
	}
	if r := call(t, "DELETE", s.url+"/api/ihop"); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE vote = %d", r.status)
	}
	if r := call(t, "GET", s.url+"/nothing/here"); r.status != 404 || !strings.Contains(r.body, "no such endpoint") {
		t.Fatalf("unknown path = %d %q", r.status, r.body)
	}
	if r := call(t, "GET", s.url+"/healthz"); r.status != 200 {
		t.Fatalf("healthz = %d", r.status)
	}
	if r := call(t, "GET", s.url+"/readyz"); r.status != 200 || !strings.Contains(r.body, `"status":"ready"`) {
		t.Fatalf("readyz = %d %q", r.status, r.body)
	}
	if n, err := s.pg.QueryInt(context.Background(), "yelbdatabase", "SELECT sum(count) FROM restaurants"); err != nil || n != 6 {
		t.Fatalf("votes in the database = %d, %v; want 6 (unknown restaurants must not be stored)", n, err)
	}
}

// Every one of 200 concurrent votes is counted once: the counts the server
// returns for a restaurant are exactly 1..N, each once, and the table holds N.
func TestConcurrentVotesAreEachCountedOnce(t *testing.T) {
	s := newStack(t)
	names := []string{"ihop", "chipotle", "outback", "bucadibeppo"}
	const total = 200
	var mu sync.Mutex
	returned := map[string][]int{}
	var wg sync.WaitGroup
	errs := make(chan string, total)
	start := make(chan struct{})
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			name := names[i%len(names)]
			method := "GET"
			if i%2 == 1 {
				method = "POST"
			}
			req, _ := http.NewRequest(method, s.url+"/api/"+name, nil)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var n int
			if _, err := fmt.Fscan(resp.Body, &n); err != nil || resp.StatusCode != 200 {
				errs <- fmt.Sprintf("%s %s: status %d, %v", method, name, resp.StatusCode, err)
				return
			}
			mu.Lock()
			returned[name] = append(returned[name], n)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	per := total / len(names)
	for _, name := range names {
		got := returned[name]
		sort.Ints(got)
		if len(got) != per {
			t.Fatalf("%s: %d answers, want %d", name, len(got), per)
		}
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("%s: returned counts %v are not 1..%d each once", name, got, per)
			}
		}
		n, err := s.pg.QueryInt(context.Background(), "yelbdatabase", "SELECT count FROM restaurants WHERE name = $1", name)
		if err != nil || n != int64(per) {
			t.Fatalf("%s in the database = %d, %v; want %d", name, n, err, per)
		}
	}
}

type errorReply struct {
	Error      string `json:"error"`
	Dependency string `json:"dependency"`
}

func expectOutage(t *testing.T, r reply, dependency string) {
	t.Helper()
	var body errorReply
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != 503 {
		t.Fatalf("want 503 JSON, got %d %q (%v)", r.status, r.body, err)
	}
	if body.Dependency != dependency || !strings.Contains(body.Error, dependency+" is unavailable") {
		t.Fatalf("outage message = %+v, want one naming %s", body, dependency)
	}
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}

func TestDatabaseOutageAnswers503AndRecoversWithoutRestart(t *testing.T) {
	s := newStack(t)
	if r := call(t, "POST", s.url+"/api/chipotle"); r.body != "1" {
		t.Fatalf("vote before the outage = %d %q", r.status, r.body)
	}
	if err := s.pg.Stop(); err != nil {
		t.Fatal(err)
	}
	expectOutage(t, call(t, "POST", s.url+"/api/chipotle"), "postgres")
	expectOutage(t, call(t, "GET", s.url+"/api/getvotes"), "postgres")
	r := call(t, "GET", s.url+"/readyz")
	if r.status != 503 || !strings.Contains(r.body, `"redis":"ok"`) || strings.Contains(r.body, `"postgres":"ok"`) {
		t.Fatalf("readyz during a database outage = %d %q", r.status, r.body)
	}
	if r := call(t, "GET", s.url+"/api/getstats"); r.status != 200 {
		t.Fatalf("getstats needs only Redis, got %d %q", r.status, r.body)
	}
	if r := call(t, "GET", s.url+"/healthz"); r.status != 200 {
		t.Fatalf("liveness must not fail on a database outage, got %d", r.status)
	}

	if err := s.pg.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "votes accepted again", func() (bool, string) {
		r := call(t, "GET", s.url+"/readyz")
		return r.status == 200, r.body
	})
	if r := call(t, "POST", s.url+"/api/chipotle"); r.status != 200 || r.body != "2" {
		t.Fatalf("vote after recovery = %d %q, want 2 (the failed vote must not count)", r.status, r.body)
	}
	if r := call(t, "GET", s.url+"/api/getvotes"); r.status != 200 || !strings.Contains(r.body, `{"name": "chipotle", "value": 2}`) {
		t.Fatalf("getvotes after recovery = %d %q", r.status, r.body)
	}
}

func TestRedisOutageDegradesPageViewsOnlyAndRecovers(t *testing.T) {
	s := newStack(t)
	if r := call(t, "GET", s.url+"/api/pageviews"); r.body != "1" {
		t.Fatalf("pageviews before the outage = %q", r.body)
	}
	if err := s.redis.Stop(); err != nil {
		t.Fatal(err)
	}
	expectOutage(t, call(t, "GET", s.url+"/api/pageviews"), "redis")
	r := call(t, "GET", s.url+"/api/getstats")
	if r.status != 200 || !strings.Contains(r.body, `"hostname":"yelb-appserver-7-abcde"`) || !strings.Contains(r.body, `"pageviews":null`) {
		t.Fatalf("getstats during a Redis outage = %d %q, want 200 with the hostname and null page views", r.status, r.body)
	}
	// Redis only counts page views: the pod stays ready to serve votes.
	r = call(t, "GET", s.url+"/readyz")
	if r.status != 200 || !strings.Contains(r.body, `"postgres":"ok"`) || !strings.Contains(r.body, `"redis":"degraded`) {
		t.Fatalf("readyz during a Redis outage = %d %q, want 200 with Redis reported degraded", r.status, r.body)
	}
	if r := call(t, "POST", s.url+"/api/ihop"); r.status != 200 || r.body != "1" {
		t.Fatalf("votes need only PostgreSQL, got %d %q", r.status, r.body)
	}

	if err := s.redis.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "page views counted again", func() (bool, string) {
		r := call(t, "GET", s.url+"/api/pageviews")
		return r.status == 200, r.body
	})
	r = call(t, "GET", s.url+"/api/pageviews")
	if n, err := strconv.Atoi(r.body); err != nil || n < 1 {
		t.Fatalf("pageviews after recovery = %q", r.body)
	}
	if r := call(t, "GET", s.url+"/readyz"); r.status != 200 {
		t.Fatalf("readyz after recovery = %d %q", r.status, r.body)
	}
}

// The original UI's production build calls "//api/..." (its base URL ends in
// a slash): those requests are served, not redirected. Read-only endpoints
// refuse other methods with 405 and say which they allow.
func TestOriginalUIURLsAndMethods(t *testing.T) {
	s := newStack(t)
	if r := call(t, "GET", s.url+"//api/ihop"); r.status != 200 || r.body != "1" {
		t.Fatalf("GET //api/ihop = %d %q (Location %q), want the vote counted", r.status, r.body, r.header.Get("Location"))
	}
	if r := call(t, "GET", s.url+"//api/getvotes"); r.status != 200 || !strings.Contains(r.body, `{"name": "ihop", "value": 1}`) {
		t.Fatalf("GET //api/getvotes = %d %q (Location %q)", r.status, r.body, r.header.Get("Location"))
	}
	if r := call(t, "GET", s.url+"//api//getstats"); r.status != 200 || !strings.Contains(r.body, `"pageviews":1`) {
		t.Fatalf("GET //api//getstats = %d %q", r.status, r.body)
	}
	for _, path := range []string{"/api/getvotes", "/api/getstats", "/api/pageviews", "/api/hostname", "//api/getvotes"} {
		for _, method := range []string{"POST", "PUT", "DELETE"} {
			r := call(t, method, s.url+path)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "HEAD,GET,OPTIONS" || !strings.Contains(r.body, "use GET") {
				t.Errorf("%s %s = %d Allow %q %q, want 405 with Allow HEAD,GET,OPTIONS", method, path, r.status, r.header.Get("Allow"), r.body)
			}
		}
	}
	if r := call(t, "POST", s.url+"/api/getvotes"); strings.Contains(r.body, "unknown restaurant") {
		t.Fatalf("POST /api/getvotes taken for a vote: %q", r.body)
	}
}

// Sample mode starts all four services at once. The app server started
// before its datastores is alive but not ready; it becomes ready as soon as
// PostgreSQL answers, without a restart and whether or not Redis is up yet.
func TestReadyWhenPostgresArrivesInAnyOrder(t *testing.T) {
	s := newStack(t)
	if err := s.pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.redis.Stop(); err != nil {
		t.Fatal(err)
	}
	if r := call(t, "GET", s.url+"/healthz"); r.status != 200 {
		t.Fatalf("healthz with no datastore = %d; liveness must not restart a pod waiting for them", r.status)
	}
	if r := call(t, "GET", s.url+"/readyz"); r.status != 503 || !strings.Contains(r.body, `"status":"not ready"`) {
		t.Fatalf("readyz with no datastore = %d %q, want 503", r.status, r.body)
	}
	if err := s.pg.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "ready once PostgreSQL answers, Redis still down", func() (bool, string) {
		r := call(t, "GET", s.url+"/readyz")
		return r.status == 200, r.body
	})
	if r := call(t, "POST", s.url+"/api/outback"); r.status != 200 || r.body != "1" {
		t.Fatalf("vote with Redis down = %d %q", r.status, r.body)
	}
	if err := s.redis.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "page views once Redis answers", func() (bool, string) {
		r := call(t, "GET", s.url+"/api/pageviews")
		return r.status == 200, r.body
	})
}
