package s3api

import (
	"encoding/base64"
	"strings"
)

// A ListObjectsV2 continuation token is base64 of the last key or common
// prefix listed, then, when the backend gave its own cursor for the next
// page (an S3 backend's continuation token: it resumes a listing faster
// than a start-after key), a NUL and that cursor. Keys never hold NUL
// (checkPrefix refuses it), so the split is unambiguous. The position is
// always the key: a backend cursor only speeds up getting there.

// encodeContinuation is the token of a page ending at last.
func encodeContinuation(last, backendToken string) string {
	if backendToken == "" {
		return base64.StdEncoding.EncodeToString([]byte(last))
	}
	return base64.StdEncoding.EncodeToString([]byte(last + "\x00" + backendToken))
}

// decodeContinuation reads a token; ok is false for one dgp cannot have
// issued.
func decodeContinuation(token string) (marker, backendToken string, ok bool) {
	dec, err := base64.StdEncoding.DecodeString(token)
	if err != nil || token == "" {
		return "", "", false
	}
	marker, backendToken, _ = strings.Cut(string(dec), "\x00")
	if checkPrefix("continuation-token", marker) != nil {
		return "", "", false
	}
	return marker, backendToken, true
}
