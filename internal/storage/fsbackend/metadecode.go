package fsbackend

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dgp-proxy/dgp/internal/jsonscan"
)

// decodeMeta decodes the whole JSON of a trailer (GET, HEAD, version
// listings, every read of an object's metadata but a listing's). Each GET
// and HEAD decodes one, and encoding/json spent 4-6 µs and 17
// allocations on a typical trailer; decodeMetaInPlace reads the members
// objMeta declares in place instead (issue 17). Whatever it cannot read
// exactly as encoding/json would (a member name in another case, a
// repeated member, a null, a number or value of another form, a syntax
// error) is decoded by encoding/json, whole, as before, so the result
// never depends on the path.
func decodeMeta(js []byte, m *objMeta) error {
	if decodeMetaInPlace(js, m) {
		return nil
	}
	*m = objMeta{}
	return json.Unmarshal(js, m)
}

// The JSON names of objMeta's and lockMeta's fields.
var (
	metaNames = []string{"key", "size", "etag", "modified", "contentType", "userMetadata", "headers",
		"partSizes", "versionId", "seq", "deleteMarker", "lock"}
	lockNames = []string{"mode", "retainUntil", "legalHold", "holdSet"}
)

// decodeMetaInPlace is decodeMeta's reading in place; false: js must be
// decoded by encoding/json (m is then partly set).
func decodeMetaInPlace(js []byte, m *objMeta) bool {
	// The strings kept are sliced from one copy of the trailer, which is
	// small and lives as long as the metadata does.
	sc := &jsonscan.Scanner{Buf: js, Text: string(js)}
	sc.SkipSpace()
	ok := sc.Members(metaNames, func(name string) bool {
		switch name {
		case "key":
			return str(sc, &m.Key)
		case "size":
			return i64(sc, &m.Size)
		case "etag":
			return str(sc, &m.ETag)
		case "modified":
			return timeOf(sc, &m.Modified)
		case "contentType":
			return str(sc, &m.ContentType)
		case "userMetadata":
			return strMap(sc, &m.UserMetadata)
		case "headers":
			return strMap(sc, &m.Headers)
		case "partSizes":
			return i64List(sc, &m.PartSizes)
		case "versionId":
			return str(sc, &m.VersionID)
		case "seq":
			return u64(sc, &m.Seq)
		case "deleteMarker":
			return boolean(sc, &m.DeleteMarker)
		}
		m.Lock = &lockMeta{}
		return sc.Members(lockNames, func(name string) bool {
			switch name {
			case "mode":
				return str(sc, &m.Lock.Mode)
			case "retainUntil":
				return timeOf(sc, &m.Lock.RetainUntil)
			case "legalHold":
				return boolean(sc, &m.Lock.LegalHold)
			}
			return boolean(sc, &m.Lock.HoldSet)
		})
	})
	sc.SkipSpace()
	return ok && sc.Pos == len(js)
}

// str reads a string (not null, not another type).
func str(sc *jsonscan.Scanner, dst *string) bool {
	s, ok := sc.OnlyString()
	*dst = s
	return ok
}

// i64 reads an integer as encoding/json does into an int64 (no fraction,
// no exponent, in range).
func i64(sc *jsonscan.Scanner, dst *int64) bool {
	if c := sc.Peek(); c != '-' && (c < '0' || c > '9') {
		return false
	}
	text, err := sc.Number()
	if err != nil {
		return false
	}
	v, err := strconv.ParseInt(string(text), 10, 64)
	*dst = v
	return err == nil
}

// u64 is i64 into a uint64.
func u64(sc *jsonscan.Scanner, dst *uint64) bool {
	if c := sc.Peek(); c < '0' || c > '9' {
		return false
	}
	text, err := sc.Number()
	if err != nil {
		return false
	}
	v, err := strconv.ParseUint(string(text), 10, 64)
	*dst = v
	return err == nil
}

// boolean reads a boolean (not null, not another type).
func boolean(sc *jsonscan.Scanner, dst *bool) bool {
	return sc.Peek() != 'n' && sc.BoolInto(dst) == nil
}

// timeOf reads a time with time.Time's own UnmarshalJSON, given the
// string's JSON text as encoding/json gives it.
func timeOf(sc *jsonscan.Scanner, dst *time.Time) bool {
	start := sc.Pos
	if _, ok := sc.OnlyString(); !ok {
		return false
	}
	return dst.UnmarshalJSON(sc.Buf[start:sc.Pos]) == nil
}

// strMap reads an object of strings into a new map (encoding/json makes
// one for {} too; a repeated name keeps the last value, as it does).
func strMap(sc *jsonscan.Scanner, dst *map[string]string) bool {
	if isNull, err := sc.BeginObject("a map"); isNull || err != nil {
		return false
	}
	out := map[string]string{}
	for first := true; ; {
		k, more, err := sc.NextKey(&first)
		if err != nil {
			return false
		}
		if !more {
			*dst = out
			return true
		}
		var v string
		if !str(sc, &v) {
			return false
		}
		out[k] = v
	}
}

// i64List reads a list of integers into a new slice (non-nil for [], as
// encoding/json gives).
func i64List(sc *jsonscan.Scanner, dst *[]int64) bool {
	out := []int64{}
	ok := sc.Elements(func() bool {
		var v int64
		ok := i64(sc, &v)
		out = append(out, v)
		return ok
	})
	*dst = out
	return ok
}
