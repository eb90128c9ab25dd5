package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/httpstatus"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// errHandler is an endpoint: it writes a success answer itself, or returns
// an error that serve renders (an *apiError as is, anything else mapped by
// mapError).
type errHandler func(w http.ResponseWriter, r *http.Request) error

// apiError is an error answer: {"error": Code, "message": Message, ...}.
type apiError struct {
	Status     int    `json:"-"`
	Code       string `json:"error"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	WriterURL  string `json:"writer_url,omitempty"`
	RetryAfter int    `json:"-"` // seconds; sets Retry-After when > 0
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func badRequest(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &apiError{Status: http.StatusBadRequest, Code: "invalid", Field: field, Message: msg}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf(format, args...)}
}

var errUnauthenticated = &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated",
	Message: "sign in first: POST " + Prefix + "/login"}

// serve wraps an endpoint: it renders its error, and counts the request by
// route and status.
func (a *API) serve(route string, h errHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error().Str("route", route).Interface("panic", v).Bytes("stack", debug.Stack()).Msg("admin handler panicked")
				if sw.Status() == 0 {
					writeError(sw, &apiError{Status: http.StatusInternalServerError, Code: "internal",
						Message: "internal error (see the server log)"})
				}
			}
			status := sw.Status()
			if status == 0 {
				status = http.StatusOK
			}
			a.metrics.requests.WithLabelValues(route, statusLabel(status)).Inc()
		}()
		if err := a.checkCrossSite(r); err != nil { // csrf.go
			writeError(sw, a.mapError(route, r, err))
			return
		}
		if err := h(sw, r); err != nil {
			writeError(sw, a.mapError(route, r, err))
		}
	})
}

func statusLabel(status int) string { return strconv.Itoa(status) }

// statusWriter remembers the status written (for the request metric).
type statusWriter = httpstatus.Recorder

// mapError turns an error of an endpoint or of IAM.Publish into the answer
// the client sees. A 5xx answer is logged with its route (the operation):
// at error for a 500 (answered without detail), at warn for the others
// (503 sync_unavailable, sync_outcome_unknown). 4xx answers are not logged here.
func (a *API) mapError(route string, r *http.Request, err error) *apiError {
	ae := a.classify(err)
	if ae.Status >= 500 {
		ev := a.log.Warn()
		if ae.Status == http.StatusInternalServerError {
			ev = a.log.Error()
		}
		ev.Err(err).Str("route", route).Str("method", r.Method).Str("path", r.URL.Path).
			Int("status", ae.Status).Str("error_code", ae.Code).Msg("admin request failed")
	}
	return ae
}

// classify maps err to an answer without logging.
func (a *API) classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var fe *iam.FieldError
	switch {
	case errors.Is(err, configsync.ErrReadOnly):
		msg := "this instance is a read-only replica: make IAM changes on the writer"
		if a.writerURL != "" {
			msg += " at " + a.writerURL
		}
		return &apiError{Status: http.StatusConflict, Code: "read_only_replica", Message: msg, WriterURL: a.writerURL}
	case errors.Is(err, configsync.ErrMidUpgrade):
		return &apiError{Status: http.StatusConflict, Code: "fleet_mid_upgrade", Message: configsync.ErrMidUpgrade.Error() +
			": upgrade every instance before changing IAM"}
	case errors.Is(err, configsync.ErrOutcomeUnknown): // before ErrUnavailable: never "not made"
		return &apiError{Status: http.StatusServiceUnavailable, Code: "sync_outcome_unknown",
			Message: "the change may have been made: read the state before retrying: " + err.Error()}
	case errors.Is(err, configsync.ErrUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "sync_unavailable",
			Message: "the change was not made: " + err.Error()}
	case errors.As(err, &fe):
		msg := fe.Msg
		if fe.Field != "" {
			msg = fe.Field + ": " + fe.Msg
		}
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Field: fe.Field, Message: msg}
	case errors.Is(err, configdb.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, configdb.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, configdb.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error (see the server log)"}
}

// writeJSON writes v as JSON with status. Answers are never cached: some
// hold secrets shown once.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal","message":"cannot encode the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, e)
}

// decodeJSON reads the request body, one JSON object, into v: the body
// must be application/json, at most MaxBodyBytes, with no unknown fields,
// field names exactly as documented (case-sensitive), no field given
// twice, and nothing after the object.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		if ct == "" {
			ct = "none"
		}
		return badRequest("", "the body must be JSON with Content-Type: application/json (got %s)", ct)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) { // the body stalled
			return ae
		}
		return decodeError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "the body must hold exactly one JSON object")
	}
	return checkStrict(data, reflect.TypeOf(v))
}

func decodeError(err error) *apiError {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return badRequest("", "a JSON body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the JSON body is truncated")
	case errors.As(err, &se):
		return badRequest("", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return badRequest("", "the body must be a JSON object")
		}
		return invalid(field, "must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return badRequest(name, "unknown field %q", name)
	}
	return badRequest("", "cannot decode the JSON body: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

// clientIP is the host of the connection's remote address. Forwarding
// headers are ignored: they are set by the client.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
