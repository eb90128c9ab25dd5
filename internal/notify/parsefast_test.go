package notify

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// samePass checks that Parse (reading in place first) returns what
// decoding the whole message with encoding/json returns.
func samePass(t *testing.T, body []byte) {
	t.Helper()
	got, err := Parse(body)
	want, wantErr := parseWith(body, 0, passWhole)
	if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) ||
		errors.Is(err, ErrTestEvent) != errors.Is(wantErr, ErrTestEvent) {
		t.Fatalf("body %s\nin place first: %+v, %v\nencoding/json: %+v, %v", body, got, err, want, wantErr)
	}
}

// TestParseReadsRecordsInPlace: the events readers are sent (MinIO's
// wrapper, AWS's records, several records, escapes, members of every JSON
// kind around the ones read) are read in place, not handed to
// encoding/json, and give what encoding/json gives.
func TestParseReadsRecordsInPlace(t *testing.T) {
	put := s3Record("ObjectCreated:Put", "sync", "state/file.json", `"abc"`)
	bodies := map[string][]byte{
		"minio":        mustRead(t, "minio-nats-put.json"),
		"aws":          mustRead(t, "aws-s3-direct-put.json"),
		"two records":  records(put, s3Record("ObjectRemoved:Delete", "sync", "a+b%2Fc", "")),
		"escapes":      records(`{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"s\u0079nc"},"object":{"key":"k\"\\\/\u00e9\ud83d\ude00\ud800","eTag":"\"e\"","sequencer":"\t01"}}}`),
		"invalid utf8": records("{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\xff\"},\"object\":{\"key\":\"k\xc3\"}}}"),
		"other members": []byte(`{"Records":[{"x":[1,-2.5e+3,true,false,null,{"y":[]},"z"],"eventName":"ObjectCreated:Copy",` +
			`"s3":{"bucket":{"name":"b","arn":{}},"object":{"key":"k","size":0,"userMetadata":{"eTag":"not this one"}}},"eventTime":"2026-11-25T10:00:00Z"}],` +
			` "EventName":"s3:ObjectCreated:Copy", "Key":"b/k", "other":{"Records":1}}` + "\n"),
		"a bad record among good ones": records(put, `{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":""},"object":{"key":"k"}}}`),
		"only bad records":             records(`{"eventName":"ObjectCreated:Put"}`),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			if _, ok := readRecordsInPlace(body); !ok {
				t.Fatalf("not read in place: %s", body)
			}
			samePass(t, body)
		})
	}
}

// TestParseLeavesOtherShapesToEncodingJSON: whatever the in-place reader
// cannot read exactly as encoding/json would goes to encoding/json, and
// Parse's answer is encoding/json's.
func TestParseLeavesOtherShapesToEncodingJSON(t *testing.T) {
	put := s3Record("ObjectCreated:Put", "sync", "k", `"abc"`)
	rec := func(rs ...string) string { return string(records(rs...)) }
	bodies := map[string]string{
		"sns":                         string(snsEnvelope(string(records(put)))),
		"eventbridge":                 string(mustRead(t, "aws-eventbridge-object-created.json")),
		"test event":                  string(mustRead(t, "aws-s3-test-event.json")),
		"test event with records":     `{"Event":"s3:TestEvent","Records":[` + put + `]}`,
		"no records":                  `{"Records":[]}`,
		"null records":                `{"Records":null,"EventName":"s3:ObjectCreated:Put","Key":"b/k"}`,
		"wrapper without records":     `{"EventName":"s3:ObjectCreated:Put","Key":"b/k"}`,
		"records in another case":     `{"records":[` + put + `]}`,
		"a member in another case":    rec(strings.Replace(put, `"eventName"`, `"EventName"`, 1)),
		"eTag in another case":        rec(strings.Replace(put, `"eTag"`, `"etag"`, 1)),
		"a repeated member":           rec(strings.Replace(put, `"eventName":`, `"eventName":"ObjectRemoved:Delete","eventName":`, 1)),
		"repeated records":            `{"Records":[` + put + `],"Records":[]}`,
		"a null member":               rec(strings.Replace(put, `"eventName":"ObjectCreated:Put"`, `"eventName":null`, 1)),
		"a number for a string":       rec(strings.Replace(put, `"eventTime":"2026-11-25T10:00:00.123Z"`, `"eventTime":17`, 1)),
		"null s3":                     rec(`{"eventName":"ObjectCreated:Put","s3":null}`),
		"a record that is not object": rec(put, `"x"`),
		"records not a list":          `{"Records":{}}`,
		"trailing data":               string(records(put)) + `{}`,
		"bad syntax in a skipped one": rec(strings.Replace(put, `"eventVersion":"2.1"`, `"eventVersion":tru`, 1)),
		"unterminated":                strings.TrimSuffix(string(records(put)), "}"),
		"not an object":               `[` + put + `]`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			if _, ok := readRecordsInPlace([]byte(body)); ok {
				t.Fatalf("read in place: %s", body)
			}
			samePass(t, []byte(body))
		})
	}
}
