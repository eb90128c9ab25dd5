package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Jobs is what the Jobs API needs from the jobs engine (internal/jobs,
// adapted in internal/app): every answer is JSON-encodable and read from
// the fleet's shared state, so any instance answers alike. Errors wrap
// ErrJobNotFound, ErrJobRefused, or are a *JobHeldError; anything else is
// a 503 (the sync bucket did not answer).
type Jobs interface {
	List(ctx context.Context) (any, error)
	Get(ctx context.Context, id string) (any, error)
	RunNow(ctx context.Context, id string) (any, error)
	Pause(ctx context.Context, id string) (any, error)
	Resume(ctx context.Context, id string) (any, error)
	Preview(ctx context.Context, id string) (any, error)
	Runs(ctx context.Context, id string) (any, error)
	Failures(ctx context.Context, id string) (any, error)
}

// Errors a Jobs implementation wraps.
var (
	// ErrJobNotFound: no job with that id (404 not_found).
	ErrJobNotFound = errors.New("no such job")
	// ErrJobRefused: the job cannot do that now (disabled, paused, no
	// preview): 409 job_refused.
	ErrJobRefused = errors.New("job refused the request")
)

// JobHeldError is run-now's refusal when another instance holds the job's
// lease: 409 job_leased_elsewhere naming the holder.
type JobHeldError struct {
	Job     string
	Holder  string
	Token   uint64
	Expires time.Time
}

func (e *JobHeldError) Error() string {
	return fmt.Sprintf("%s is leased by %s (token %d, lease expires %s): ask that instance, or wait",
		e.Job, e.Holder, e.Token, e.Expires.UTC().Format(time.RFC3339))
}

// jobHeldAnswer is the 409 body: the error fields and the holder.
type jobHeldAnswer struct {
	Code    string    `json:"error"`
	Message string    `json:"message"`
	Holder  string    `json:"holder"`
	Token   uint64    `json:"token"`
	Expires time.Time `json:"lease_expires"`
}

// MountJobs serves the Jobs API on j (call it before serving):
// GET /jobs, GET /jobs/{id}, POST /jobs/{id}/run-now|pause|resume|preview,
// GET /jobs/{id}/runs, GET /jobs/{id}/failures. Without it those paths
// answer 404.
func (a *API) MountJobs(j Jobs) {
	one := func(f func(context.Context, string) (any, error)) func(http.ResponseWriter, *http.Request, *principal) error {
		return func(w http.ResponseWriter, r *http.Request, _ *principal) error {
			v, err := f(r.Context(), r.PathValue("id"))
			var held *JobHeldError
			if errors.As(err, &held) {
				writeJSON(w, http.StatusConflict, jobHeldAnswer{Code: "job_leased_elsewhere", Message: held.Error(),
					Holder: held.Holder, Token: held.Token, Expires: held.Expires})
				return nil
			}
			if err != nil {
				return a.jobError(err)
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		}
	}
	a.handle("GET /jobs", a.authed(read, func(w http.ResponseWriter, r *http.Request, _ *principal) error {
		v, err := j.List(r.Context())
		if err != nil {
			return a.jobError(err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"jobs": v})
		return nil
	}))
	a.handle("GET /jobs/{id}", a.authed(read, one(j.Get)))
	a.handle("GET /jobs/{id}/runs", a.authed(read, one(j.Runs)))
	a.handle("GET /jobs/{id}/failures", a.authed(read, one(j.Failures)))
	a.handle("POST /jobs/{id}/run-now", a.authed(read, one(j.RunNow)))
	a.handle("POST /jobs/{id}/pause", a.authed(read, one(j.Pause)))
	a.handle("POST /jobs/{id}/resume", a.authed(read, one(j.Resume)))
	a.handle("POST /jobs/{id}/preview", a.authed(read, one(j.Preview)))
}

// jobError maps a Jobs error (other than a *JobHeldError) to its answer.
func (a *API) jobError(err error) error {
	switch {
	case errors.Is(err, ErrJobNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, ErrJobRefused):
		return &apiError{Status: http.StatusConflict, Code: "job_refused", Message: err.Error()}
	}
	return &apiError{Status: http.StatusServiceUnavailable, Code: "jobs_unavailable",
		Message: "the jobs' shared state could not be read or written: " + err.Error()}
}
