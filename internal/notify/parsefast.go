package notify

import (
	"strings"

	"github.com/dgp-proxy/dgp/internal/jsonscan"
)

// Every reader decodes the event of every IAM change, and encoding/json
// spends most of that time scanning the members a hint does not need
// (MinIO's records carry the request's identity, response headers, user
// metadata and the client's user agent): 14 µs for MinIO's 1.6 KiB event,
// 7 % of a reader's CPU per change in a profile (issue 17, twelfth pass).
// readRecordsInPlace reads the common shape in place instead: a list of
// records, bare (AWS) or in MinIO's wrapper, with every member it reads in
// the form encoding/json would decode without surprise. Anything else (another
// shape, a member's name in another case, a repeated member, a null or a
// value of another type where a hint's field is read, a syntax error
// anywhere) makes it give up, and the message is decoded by encoding/json
// as before, so what Parse returns does not depend on which path read it.

// Member names as the envelope and record structs declare them; a key that
// matches one only case-insensitively (which encoding/json accepts) sends
// the message down the slow path.
var (
	envelopeNames = [...]string{"Records", "EventName", "Key", "Type", "Message", "TopicArn", "Event", "detail-type", "time", "detail"}
	recordNames   = [...]string{"eventSource", "eventTime", "eventName", "s3"}
	s3Names       = [...]string{"bucket", "object"}
	bucketNames   = [...]string{"name"}
	objectNames   = [...]string{"key", "eTag", "sequencer"}
)

// readRecordsInPlace returns the envelope of body when it is a list of
// records it can read in place; ok is false when the message must be
// decoded by encoding/json instead.
func readRecordsInPlace(body []byte) (env envelope[record], ok bool) {
	// Member names and skipped strings are sliced from one copy of the
	// message; the strings a hint keeps are copied out of it (readString).
	sc := jsonscan.Scanner{Buf: body, Text: string(body)}
	var records []record
	ok = sc.Members(envelopeNames[:], func(name string) bool {
		switch name {
		case "Records":
			env.Records = &records
			return readRecords(&sc, &records)
		case "EventName":
			return readString(&sc, &env.EventName)
		case "Key":
			return readString(&sc, &env.Key)
		}
		return false // a member of another shape: SNS, EventBridge, test event
	})
	if sc.SkipSpace(); !ok || sc.Pos != len(body) || len(records) == 0 {
		return envelope[record]{}, false
	}
	return env, true
}

func readRecords(sc *jsonscan.Scanner, out *[]record) bool {
	return sc.Elements(func() bool {
		var r record
		ok := readRecord(sc, &r)
		*out = append(*out, r)
		return ok
	})
}

func readRecord(sc *jsonscan.Scanner, r *record) bool {
	return sc.Members(recordNames[:], func(name string) bool {
		switch name {
		case "eventSource":
			return readString(sc, &r.EventSource)
		case "eventTime":
			return readString(sc, &r.EventTime)
		case "eventName":
			return readString(sc, &r.EventName)
		}
		r.S3 = &s3Entity{}
		return sc.Members(s3Names[:], func(name string) bool {
			if name == "bucket" {
				return sc.Members(bucketNames[:], func(string) bool { return readString(sc, &r.S3.Bucket.Name) })
			}
			o := &r.S3.Object
			return sc.Members(objectNames[:], func(name string) bool {
				switch name {
				case "key":
					return readString(sc, &o.Key)
				case "eTag":
					return readString(sc, &o.ETag)
				}
				return readString(sc, &o.Sequencer)
			})
		})
	})
}

// readString reads a JSON string (not null, not another type) into *dst,
// a copy that does not keep the message alive.
func readString(sc *jsonscan.Scanner, dst *string) bool {
	s, ok := sc.OnlyString()
	*dst = strings.Clone(s)
	return ok
}
