package fsbackend

import (
	"encoding/json"
	"math"
)

// decodeListed decodes what a listing reports of an object from the JSON
// of its trailer: size, ETag and modification time (the rest of
// storage.ObjectInfo is not part of an S3 listing). A listing of a
// million keys decodes a million trailers, and encoding/json spent a
// quarter of the directory backend's listing CPU in them (issue 17).
//
// writeTrailer marshals objMeta, whose first fields are key, size, etag
// and modified, always present; decodeListed reads those four in place
// (the key skipped: the listing knows it) and leaves the rest of the JSON
// unread (a trailer damaged after those fields is listed; GET and HEAD,
// which decode it whole, report it). Anything else (another order, an
// escape in the ETag other than its quotes', a number that is not plain
// digits) is decoded by encoding/json, whole, as before.
// The modification time is decoded by time.Time's own UnmarshalJSON, as
// encoding/json does.
func decodeListed(js []byte, m *objMeta) error {
	if decodeListedFast(js, m) {
		return nil
	}
	*m = objMeta{}
	return json.Unmarshal(js, m)
}

// decodeListedFast is decodeListed's reading in place; false: js does not
// start as writeTrailer writes it (m is then partly set).
func decodeListedFast(js []byte, m *objMeta) bool {
	r := listedReader{b: js}
	if !r.lit(`{"key":"`) || !r.skipString() || !r.lit(`,"size":`) {
		return false
	}
	size, ok := r.digits()
	if !ok || !r.lit(`,"etag":"`) {
		return false
	}
	etag, ok := r.etag()
	if !ok || !r.lit(`,"modified":`) {
		return false
	}
	t, ok := r.quoted()
	if !ok || m.Modified.UnmarshalJSON(t) != nil {
		return false
	}
	if r.i >= len(js) || (js[r.i] != ',' && js[r.i] != '}') {
		return false
	}
	m.Size, m.ETag = size, etag
	return true
}

// listedReader reads the start of a trailer's JSON.
type listedReader struct {
	b []byte
	i int
}

// lit consumes s.
func (r *listedReader) lit(s string) bool {
	if len(r.b)-r.i < len(s) || string(r.b[r.i:r.i+len(s)]) != s {
		return false
	}
	r.i += len(s)
	return true
}

// skipString consumes the rest of a string whose opening quote is read:
// escapes are skipped whole (an escaped quote does not end it).
func (r *listedReader) skipString() bool {
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			return true
		case c == '\\':
			r.i += 2
		case c < 0x20:
			return false
		default:
			r.i++
		}
	}
	return false
}

// plainString returns the rest of a string whose opening quote is read,
// as it stands in the JSON, when it holds printable ASCII only and no
// escape, or, with quotes, no escape but \" (reported by escaped).
func (r *listedReader) plainString(quotes bool) (raw []byte, escaped, ok bool) {
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return r.b[start : r.i-1], escaped, true
		case c == '\\' && quotes && r.i+1 < len(r.b) && r.b[r.i+1] == '"':
			escaped = true
			r.i++
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false, false
		}
		r.i++
	}
	return nil, false, false
}

// etag returns the rest of a string whose opening quote is read, when it
// holds printable ASCII only, with no escape but \" (an ETag is stored
// with its quotes: "\"<hex>\"").
func (r *listedReader) etag() (string, bool) {
	v, escaped, ok := r.plainString(true)
	if !ok || !escaped {
		return string(v), ok
	}
	var buf [96]byte // most ETags: no allocation but the string's
	out := buf[:0]
	for j := 0; j < len(v); j++ {
		if v[j] == '\\' {
			j++
		}
		out = append(out, v[j])
	}
	return string(out), true
}

// quoted returns a string with its quotes (for UnmarshalJSON), when it
// holds no escape.
func (r *listedReader) quoted() ([]byte, bool) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false
	}
	start := r.i
	r.i++
	if _, _, ok := r.plainString(false); !ok {
		return nil, false
	}
	return r.b[start:r.i], true
}

// digits returns a non-negative decimal int64 without a sign, leading
// zero, fraction or exponent.
func (r *listedReader) digits() (int64, bool) {
	start := r.i
	var v int64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		d := int64(r.b[r.i] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		r.i++
	}
	n := r.i - start
	if n == 0 || (n > 1 && r.b[start] == '0') {
		return 0, false
	}
	return v, true
}
