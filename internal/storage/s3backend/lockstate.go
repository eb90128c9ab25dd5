package s3backend

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithytime "github.com/aws/smithy-go/time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// Legal hold statuses as S3 sends them.
const (
	legalHoldOn  = "ON"
	legalHoldOff = "OFF"
)

// Object lock response and request headers (canonical names).
const (
	hdrLockMode        = "X-Amz-Object-Lock-Mode"
	hdrLockRetainUntil = "X-Amz-Object-Lock-Retain-Until-Date"
	hdrLockLegalHold   = "X-Amz-Object-Lock-Legal-Hold"
	hdrVersionID       = "X-Amz-Version-Id"
)

// lockState is the storage view of a version's lock state as S3 reports it
// (mode, retain-until date and legal hold status, each empty or nil when
// absent). LegalHoldSet says that the upstream reported a legal hold
// status at all, so that an explicit OFF is passed on as OFF.
func lockState(mode string, until *time.Time, hold string) storage.LockState {
	var l storage.LockState
	l.Retention.Mode = mode
	if until != nil {
		l.Retention.RetainUntil = *until
	}
	l.LegalHoldSet = hold != ""
	l.LegalHold = hold == legalHoldOn
	return l
}

// lockInput is a put's requested lock state as SDK input fields (zero
// values where nothing was asked).
type lockInput struct {
	mode  types.ObjectLockMode
	until *time.Time
	hold  types.ObjectLockLegalHoldStatus
}

func lockFields(l storage.LockState) lockInput {
	var in lockInput
	in.mode = types.ObjectLockMode(l.Retention.Mode)
	if !l.Retention.RetainUntil.IsZero() {
		in.until = aws.Time(l.Retention.RetainUntil)
	}
	if s := legalHoldStatus(l); s != "" {
		in.hold = types.ObjectLockLegalHoldStatus(s)
	}
	return in
}

// legalHoldStatus is the x-amz-object-lock-legal-hold value a put asks for
// ("" for none).
func legalHoldStatus(l storage.LockState) string {
	switch {
	case l.LegalHold:
		return legalHoldOn
	case l.LegalHoldSet:
		return legalHoldOff
	}
	return ""
}

// setLockHeaders sets the object lock headers of a put as the SDK
// serialises them (the date as smithy's date-time, in UTC).
func setLockHeaders(h http.Header, l storage.LockState) {
	setHeader(h, hdrLockMode, l.Retention.Mode)
	if !l.Retention.RetainUntil.IsZero() {
		h[hdrLockRetainUntil] = []string{smithytime.FormatDateTime(l.Retention.RetainUntil)}
	}
	setHeader(h, hdrLockLegalHold, legalHoldStatus(l))
}

// lockFromHeaders reads a GET or HEAD answer's lock headers as the SDK
// deserialises them: an unparsable retain-until date is an error.
func lockFromHeaders(h http.Header) (storage.LockState, error) {
	mode := headerValue(h, hdrLockMode)
	hold := headerValue(h, hdrLockLegalHold)
	var until *time.Time
	if v, ok := h[hdrLockRetainUntil]; ok && len(v) > 0 {
		t, err := smithytime.ParseDateTime(strings.TrimSpace(v[0]))
		if err != nil {
			return storage.LockState{}, err
		}
		until = &t
	}
	if mode == "" && hold == "" && until == nil {
		return storage.LockState{}, nil
	}
	return lockState(mode, until, hold), nil
}

// versionQuery is the query of a GET or HEAD: partNumber and versionId in
// the order url.Values.Encode (the SDK's serialiser) gives them, "" when
// neither is set.
func versionQuery(partNumber int, versionID string) string {
	var q string
	if partNumber > 0 {
		q = "partNumber=" + strconv.Itoa(partNumber)
	}
	if versionID != "" {
		if q != "" {
			q += "&"
		}
		q += "versionId=" + url.QueryEscape(versionID)
	}
	return q
}
