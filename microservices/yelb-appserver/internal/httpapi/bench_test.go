package httpapi_test

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkVote measures vote throughput through HTTP against a real
// PostgreSQL (pool of 20 connections); see the votes/s metric.
func BenchmarkVote(b *testing.B) {
	s := newStack(b)
	names := []string{"ihop", "chipotle", "outback", "bucadibeppo"}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			resp, err := c.Post(s.url+"/api/"+names[i%len(names)], "", nil)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("vote: status %d", resp.StatusCode)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}
