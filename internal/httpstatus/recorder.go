// Package httpstatus records the status of an HTTP answer for the code
// around a handler (metrics, write hooks) without changing the answer.
package httpstatus

import "net/http"

// Recorder passes everything to ResponseWriter and remembers the first
// status written: 200 when the body (or a flush) comes first, 0 while
// nothing was written. http.ResponseController reaches the writer below
// through Unwrap.
type Recorder struct {
	http.ResponseWriter
	status int
}

// Status is the status written so far (0: none yet).
func (r *Recorder) Status() int { return r.status }

// WriteHeader implements http.ResponseWriter.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush passes a flush through (streamed answers) when the writer below
// can flush.
func (r *Recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		if r.status == 0 {
			r.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap returns the writer below, for http.ResponseController.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
