package admin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// cannedJobs answers what the Jobs API maps: the engine itself is tested
// in internal/jobs, and end to end (a real lease held elsewhere answered
// 409) by internal/jobstest's fleet test.
type cannedJobs struct{}

func (cannedJobs) answer(id string) (any, error) {
	switch id {
	case "replication:a":
		return map[string]any{"id": id, "status": "idle"}, nil
	case "replication:held":
		return nil, &JobHeldError{Job: id, Holder: "dgp-2", Token: 7, Expires: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	case "replication:paused":
		return nil, fmt.Errorf("%w: paused", ErrJobRefused)
	case "replication:broken":
		return nil, fmt.Errorf("sync bucket: connection refused")
	}
	return nil, fmt.Errorf("%w: %q", ErrJobNotFound, id)
}

func (c cannedJobs) List(context.Context) (any, error) {
	return []any{map[string]any{"id": "replication:a"}}, nil
}
func (c cannedJobs) Get(_ context.Context, id string) (any, error)      { return c.answer(id) }
func (c cannedJobs) RunNow(_ context.Context, id string) (any, error)   { return c.answer(id) }
func (c cannedJobs) Pause(_ context.Context, id string) (any, error)    { return c.answer(id) }
func (c cannedJobs) Resume(_ context.Context, id string) (any, error)   { return c.answer(id) }
func (c cannedJobs) Preview(_ context.Context, id string) (any, error)  { return c.answer(id) }
func (c cannedJobs) Runs(_ context.Context, id string) (any, error)     { return c.answer(id) }
func (c cannedJobs) Failures(_ context.Context, id string) (any, error) { return c.answer(id) }

func TestJobsRoutes(t *testing.T) {
	h := newHarness(t)
	h.api.MountJobs(cannedJobs{})
	c := h.client(t)
	wantError(t, c.do("GET", "/jobs", nil), http.StatusUnauthorized, "unauthenticated")
	c.login()
	if got := c.must(http.StatusOK, "GET", "/jobs", nil).obj(t); got["jobs"] == nil {
		t.Fatalf("list: %v", got)
	}
	for _, p := range []string{"/jobs/replication:a", "/jobs/replication:a/runs", "/jobs/replication:a/failures"} {
		c.must(http.StatusOK, "GET", p, nil)
	}
	for _, p := range []string{"run-now", "pause", "resume", "preview"} {
		c.must(http.StatusOK, "POST", "/jobs/replication:a/"+p, nil)
	}
	held := wantError(t, c.do("POST", "/jobs/replication:held/run-now", nil), http.StatusConflict, "job_leased_elsewhere")
	if held["holder"] != "dgp-2" || held["token"] != float64(7) {
		t.Fatalf("409 does not name the holder: %v", held)
	}
	wantError(t, c.do("POST", "/jobs/replication:paused/run-now", nil), http.StatusConflict, "job_refused")
	wantError(t, c.do("GET", "/jobs/replication:nope", nil), http.StatusNotFound, "not_found")
	wantError(t, c.do("GET", "/jobs/replication:broken", nil), http.StatusServiceUnavailable, "jobs_unavailable")
	wantError(t, c.do("GET", "/jobs/replication:a/run-now", nil), http.StatusMethodNotAllowed, "method_not_allowed")
}
