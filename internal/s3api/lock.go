package s3api

import (
	"net/http"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// The object lock request and response headers.
const (
	hdrLockMode        = "X-Amz-Object-Lock-Mode"
	hdrLockRetainUntil = "X-Amz-Object-Lock-Retain-Until-Date"
	hdrLockLegalHold   = "X-Amz-Object-Lock-Legal-Hold"
)

// S3's bounds on a bucket's default retention period (100 years).
const (
	maxRetentionDays  = 36500
	maxRetentionYears = 100
)

// lockTimeFormat is how S3 writes retain-until dates (ISO 8601, UTC, ms).
const lockTimeFormat = "2006-01-02T15:04:05.000Z"

// parseLockMode validates a retention mode.
func parseLockMode(v string) (string, bool) {
	switch v {
	case storage.LockGovernance, storage.LockCompliance:
		return v, true
	}
	return "", false
}

// parseRetainUntil reads an ISO 8601 date and checks it is in the future.
func parseRetainUntil(v string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, s3err.ErrInvalidArgument.WithMessage("The retain until date must be provided in ISO 8601 format")
	}
	if !t.After(now) {
		return time.Time{}, s3err.ErrInvalidArgument.WithMessage("The retain until date must be in the future!")
	}
	return t.UTC(), nil
}

// lockHeaders reads the x-amz-object-lock-* headers of a write, validated
// as S3 does: mode and date together, a known mode, an ISO 8601 date in the
// future, legal hold ON or OFF.
func (s *Server) lockHeaders(h http.Header) (storage.LockState, error) {
	var st storage.LockState
	mode, until, hold := h.Get(hdrLockMode), h.Get(hdrLockRetainUntil), h.Get(hdrLockLegalHold)
	if (mode == "") != (until == "") {
		return st, s3err.ErrInvalidArgument.WithMessage("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	}
	if mode != "" {
		m, ok := parseLockMode(mode)
		if !ok {
			return st, s3err.ErrInvalidArgument.WithMessage("Unknown wormMode directive.")
		}
		t, err := parseRetainUntil(until, s.now())
		if err != nil {
			return st, err
		}
		st.Retention = storage.Retention{Mode: m, RetainUntil: t}
	}
	switch hold {
	case "":
	case "ON":
		st.LegalHold, st.LegalHoldSet = true, true
	case "OFF":
		st.LegalHoldSet = true
	default:
		return st, s3err.ErrInvalidArgument.WithMessage("Legal Hold must be either of 'ON' or 'OFF'")
	}
	return st, nil
}

// hasLockHeaders reports whether a write asks for object lock parameters.
func hasLockHeaders(h http.Header) bool {
	return h.Get(hdrLockMode) != "" || h.Get(hdrLockRetainUntil) != "" || h.Get(hdrLockLegalHold) != ""
}

// setLockHeaders writes a version's object lock state as response headers.
func setLockHeaders(h http.Header, l storage.LockState) {
	if l.Retention.Mode != "" {
		h.Set(hdrLockMode, l.Retention.Mode)
		h.Set(hdrLockRetainUntil, l.Retention.RetainUntil.UTC().Format(lockTimeFormat))
	}
	switch {
	case l.LegalHold:
		h.Set(hdrLockLegalHold, "ON")
	case l.LegalHoldSet:
		h.Set(hdrLockLegalHold, "OFF")
	}
}

// requireIntegrity refuses a request without Content-MD5 or a flexible
// checksum, as S3 does for the object lock calls.
func requireIntegrity(h http.Header) error {
	if !hasIntegrityHeader(h) {
		return s3err.ErrInvalidRequest.WithMessage("Missing required header for this request: Content-MD5")
	}
	return nil
}

func (s *Server) getObjectLockConfiguration(rq *request) error {
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	cfg, err := b.GetObjectLockConfiguration(rq.ctx, name)
	if err != nil {
		return err
	}
	out := objectLockConfiguration{}
	if cfg.Enabled {
		out.ObjectLockEnabled = "Enabled"
	}
	if r := cfg.Rule; r != nil {
		out.Rule = &struct {
			DefaultRetention xmlDefaultRetention `xml:"DefaultRetention"`
		}{xmlDefaultRetention{Mode: r.Mode, Days: r.Days, Years: r.Years}}
	}
	return writeXML(rq, http.StatusOK, &out)
}

// parseObjectLockConfiguration validates a PutObjectLockConfiguration body
// as S3 does: ObjectLockEnabled "Enabled"; a Rule holds a DefaultRetention
// with a mode and exactly one of Days and Years, positive.
func parseObjectLockConfiguration(data []byte) (storage.ObjectLockConfig, error) {
	var req objectLockRequest
	if err := decodeXML(data, &req); err != nil {
		return storage.ObjectLockConfig{}, err
	}
	if strings.TrimSpace(req.ObjectLockEnabled) != "Enabled" {
		return storage.ObjectLockConfig{}, s3err.ErrMalformedXML
	}
	cfg := storage.ObjectLockConfig{Enabled: true}
	if req.Rule == nil {
		return cfg, nil
	}
	d := req.Rule.DefaultRetention
	if d == nil || d.Mode == nil || (d.Days == nil) == (d.Years == nil) {
		return cfg, s3err.ErrMalformedXML
	}
	mode, ok := parseLockMode(strings.TrimSpace(*d.Mode))
	if !ok {
		return cfg, s3err.ErrMalformedXML
	}
	r := &storage.DefaultRetention{Mode: mode}
	switch {
	case d.Days != nil:
		r.Days = *d.Days
		if r.Days <= 0 {
			return cfg, s3err.ErrInvalidArgument.WithMessage("Default retention period must be a positive integer value.")
		}
	default:
		r.Years = *d.Years
		if r.Years <= 0 {
			return cfg, s3err.ErrInvalidArgument.WithMessage("Default retention period must be a positive integer value.")
		}
	}
	if r.Days > maxRetentionDays || r.Years > maxRetentionYears {
		return cfg, s3err.ErrInvalidArgument.WithMessage("Default retention period is too large.")
	}
	cfg.Rule = r
	return cfg, nil
}

func (s *Server) putObjectLockConfiguration(rq *request) error {
	if err := requireIntegrity(rq.r.Header); err != nil {
		return err
	}
	data, err := readSmallBody(rq, maxConfigBody)
	if err != nil {
		return err
	}
	cfg, err := parseObjectLockConfiguration(data)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.PutObjectLockConfiguration(rq.ctx, name, cfg); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObjectRetention(rq *request) error {
	b, name, vid, err := s.versionBackend(rq)
	if err != nil {
		return err
	}
	r, err := b.GetObjectRetention(rq.ctx, name, rq.t.Key, vid)
	if err != nil {
		return err
	}
	out := retention{Mode: r.Mode}
	if !r.RetainUntil.IsZero() {
		out.RetainUntilDate = r.RetainUntil.UTC().Format(lockTimeFormat)
	}
	return writeXML(rq, http.StatusOK, &out)
}

// parseRetention validates a PutObjectRetention body: Mode and
// RetainUntilDate together (a future date), or neither (remove).
func (s *Server) parseRetention(data []byte) (storage.Retention, error) {
	var req retentionRequest
	if err := decodeXML(data, &req); err != nil {
		return storage.Retention{}, err
	}
	if req.Mode == nil && req.RetainUntilDate == nil {
		return storage.Retention{}, nil
	}
	if req.Mode == nil || req.RetainUntilDate == nil {
		return storage.Retention{}, s3err.ErrMalformedXML
	}
	mode, ok := parseLockMode(strings.TrimSpace(*req.Mode))
	if !ok {
		return storage.Retention{}, s3err.ErrMalformedXML
	}
	t, err := parseRetainUntil(*req.RetainUntilDate, s.now())
	if err != nil {
		return storage.Retention{}, err
	}
	return storage.Retention{Mode: mode, RetainUntil: t}, nil
}

func (s *Server) putObjectRetention(rq *request) error {
	vid, err := versionParam(rq)
	if err != nil {
		return err
	}
	if err := requireIntegrity(rq.r.Header); err != nil {
		return err
	}
	bypass, err := bypassGovernance(rq)
	if err != nil {
		return err
	}
	data, err := readSmallBody(rq, maxConfigBody)
	if err != nil {
		return err
	}
	r, err := s.parseRetention(data)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.PutObjectRetention(rq.ctx, name, rq.t.Key, vid, r, bypass); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObjectLegalHold(rq *request) error {
	b, name, vid, err := s.versionBackend(rq)
	if err != nil {
		return err
	}
	on, err := b.GetObjectLegalHold(rq.ctx, name, rq.t.Key, vid)
	if err != nil {
		return err
	}
	out := legalHold{Status: "OFF"}
	if on {
		out.Status = "ON"
	}
	return writeXML(rq, http.StatusOK, &out)
}

func (s *Server) putObjectLegalHold(rq *request) error {
	vid, err := versionParam(rq)
	if err != nil {
		return err
	}
	if err := requireIntegrity(rq.r.Header); err != nil {
		return err
	}
	data, err := readSmallBody(rq, maxConfigBody)
	if err != nil {
		return err
	}
	var req legalHoldRequest
	if err := decodeXML(data, &req); err != nil {
		return err
	}
	var on bool
	switch strings.TrimSpace(req.Status) {
	case "ON":
		on = true
	case "OFF":
	default:
		return s3err.ErrMalformedXML
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.PutObjectLegalHold(rq.ctx, name, rq.t.Key, vid, on); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}
