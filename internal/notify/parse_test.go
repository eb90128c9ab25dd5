package notify

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// s3Record builds one AWS-style record; key is used as sent (encoded).
func s3Record(eventName, bucket, key, etag string) string {
	r := map[string]any{
		"eventVersion": "2.1",
		"eventSource":  "aws:s3",
		"eventTime":    "2026-11-25T10:00:00.123Z",
		"eventName":    eventName,
		"s3": map[string]any{
			"bucket": map[string]any{"name": bucket},
			"object": map[string]any{"key": key, "eTag": etag, "sequencer": "0062E99A88DC407460"},
		},
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func records(rs ...string) []byte {
	return []byte(`{"Records":[` + strings.Join(rs, ",") + `]}`)
}

func snsEnvelope(message string) []byte {
	b, _ := json.Marshal(map[string]string{
		"Type":      "Notification",
		"MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn":  "arn:aws:sns:eu-west-1:123456789012:dgp-config-sync",
		"Message":   message,
		"Timestamp": "2026-11-25T10:00:00.456Z",
	})
	return b
}

func TestParseFixtures(t *testing.T) {
	awsHint := Hint{
		Bucket:    "dgp-iam-sync",
		Key:       ".deltaglider/config.db",
		ETag:      "9b2cf535f27731c974343645a3985328",
		EventName: "ObjectCreated:Put",
		EventTime: mustTime(t, "2026-11-25T10:00:00.123Z"),
		Sequencer: "0062E99A88DC407460",
	}
	awsFilter := Filter{Bucket: "dgp-iam-sync", Key: ".deltaglider/config.db"}
	bridgeHint := awsHint
	bridgeHint.EventName = "Object Created"
	bridgeHint.EventTime = mustTime(t, "2026-11-25T10:00:00Z")

	tests := []struct {
		file   string
		want   []Hint
		err    error
		filter Filter
	}{
		{file: "aws-s3-direct-put.json", want: []Hint{awsHint}, filter: awsFilter},
		{file: "aws-sns-envelope-put.json", want: []Hint{awsHint}, filter: awsFilter},
		{file: "aws-eventbridge-object-created.json", want: []Hint{bridgeHint}, filter: awsFilter},
		{file: "aws-s3-test-event.json", err: ErrTestEvent},
		{file: "minio-nats-put.json", filter: Filter{Bucket: "syncbucket", Key: "state/file.json"}, want: []Hint{{
			Bucket:    "syncbucket",
			Key:       "state/file.json",
			ETag:      "a191475ae2bf7db9c7e320f7da455bbb",
			EventName: "s3:ObjectCreated:Put",
			EventTime: mustTime(t, "2026-11-25T18:13:55.907Z"),
			Sequencer: "18EB5C5E28040870",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(mustRead(t, tt.file))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			assertHints(t, got, tt.want)
			for _, h := range got {
				if !tt.filter.Match(h) {
					t.Errorf("filter %+v does not match %+v", tt.filter, h)
				}
			}
		})
	}
}

func assertHints(t *testing.T, got, want []Hint) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hints %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range got {
		if !got[i].EventTime.Equal(want[i].EventTime) {
			t.Errorf("hint %d: EventTime %v, want %v", i, got[i].EventTime, want[i].EventTime)
		}
		g, w := got[i], want[i]
		g.EventTime, w.EventTime = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("hint %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestParseCases(t *testing.T) {
	const b, k = "dgp-iam-sync", ".deltaglider/config.db"
	tests := []struct {
		name string
		body []byte
		// want lists the (bucket, key, event) of the expected hints.
		want [][3]string
		// match lists, per hint, whether Filter{b, k} matches it.
		match []bool
		err   error
	}{
		{
			name:  "multiple records",
			body:  records(s3Record("ObjectCreated:Put", b, k, "e1"), s3Record("ObjectCreated:Copy", b, "other", "e2"), s3Record("ObjectRemoved:Delete", b, k, "")),
			want:  [][3]string{{b, k, "ObjectCreated:Put"}, {b, "other", "ObjectCreated:Copy"}, {b, k, "ObjectRemoved:Delete"}},
			match: []bool{true, false, false},
		},
		{
			name:  "object removed is parsed and filtered out",
			body:  records(s3Record("ObjectRemoved:Delete", b, k, "")),
			want:  [][3]string{{b, k, "ObjectRemoved:Delete"}},
			match: []bool{false},
		},
		{
			name:  "other bucket",
			body:  records(s3Record("ObjectCreated:Put", "another-bucket", k, "e")),
			want:  [][3]string{{"another-bucket", k, "ObjectCreated:Put"}},
			match: []bool{false},
		},
		{
			name:  "other key in the same prefix",
			body:  records(s3Record("ObjectCreated:Put", b, ".deltaglider/config.db.tmp", "e")),
			want:  [][3]string{{b, ".deltaglider/config.db.tmp", "ObjectCreated:Put"}},
			match: []bool{false},
		},
		{
			name:  "s3: prefixed event name",
			body:  records(s3Record("s3:ObjectCreated:CompleteMultipartUpload", b, k, "e")),
			want:  [][3]string{{b, k, "s3:ObjectCreated:CompleteMultipartUpload"}},
			match: []bool{true},
		},
		{
			name: "key encodings: plus is space, %2B is plus, %2F is slash, unicode",
			body: records(
				s3Record("ObjectCreated:Put", b, "dir/red+flower.jpg", "e"),
				s3Record("ObjectCreated:Put", b, "a%2Bb", "e"),
				s3Record("ObjectCreated:Put", b, "state%2Ffile.json", "e"),
				s3Record("ObjectCreated:Put", b, "caf%C3%A9/%E6%97%A5%E6%9C%AC.db", "e"),
				s3Record("ObjectCreated:Put", b, "%2Edeltaglider%2Fconfig%2Edb", "e"),
			),
			want: [][3]string{
				{b, "dir/red flower.jpg", "ObjectCreated:Put"},
				{b, "a+b", "ObjectCreated:Put"},
				{b, "state/file.json", "ObjectCreated:Put"},
				{b, "café/日本.db", "ObjectCreated:Put"},
				{b, k, "ObjectCreated:Put"},
			},
			match: []bool{false, false, false, false, true},
		},
		{
			name:  "minio wrapper with space and plus in the key",
			body:  []byte(`{"EventName":"s3:ObjectCreated:Put","Key":"syncbucket/my dir/a+b","Records":[{"eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","eventTime":"2026-11-25T18:13:55.907Z","s3":{"bucket":{"name":"syncbucket"},"object":{"key":"my+dir%2Fa%2Bb","eTag":"x"}}}]}`),
			want:  [][3]string{{"syncbucket", "my dir/a+b", "s3:ObjectCreated:Put"}},
			match: []bool{false},
		},
		{
			name:  "minio wrapper without records uses its Key",
			body:  []byte(`{"EventName":"s3:ObjectCreated:Put","Key":"dgp-iam-sync/.deltaglider/config.db","Records":[]}`),
			want:  [][3]string{{b, k, "s3:ObjectCreated:Put"}},
			match: []bool{true},
		},
		{
			name:  "sns envelope with several records",
			body:  snsEnvelope(string(records(s3Record("ObjectCreated:Put", b, k, "e1"), s3Record("ObjectCreated:Put", b, k, "e2")))),
			want:  [][3]string{{b, k, "ObjectCreated:Put"}, {b, k, "ObjectCreated:Put"}},
			match: []bool{true, true},
		},
		{
			name: "sns envelope carrying the test event",
			body: snsEnvelope(string(mustRead(t, "aws-s3-test-event.json"))),
			err:  ErrTestEvent,
		},
		{
			name: "sns subscription confirmation has nothing to act on",
			body: []byte(`{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe","TopicArn":"arn:aws:sns:eu-west-1:1:t"}`),
		},
		{
			name:  "eventbridge object deleted",
			body:  []byte(`{"version":"0","detail-type":"Object Deleted","source":"aws.s3","time":"2026-11-25T10:00:00Z","detail":{"bucket":{"name":"dgp-iam-sync"},"object":{"key":".deltaglider/config.db","sequencer":"1"},"reason":"DeleteObject"}}`),
			want:  [][3]string{{b, k, "Object Deleted"}},
			match: []bool{false},
		},
		{
			name:  "eventbridge key keeps plus and decodes percent",
			body:  []byte(`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"dgp-iam-sync"},"object":{"key":"a+b%20c"}}}`),
			want:  [][3]string{{b, "a+b c", "Object Created"}},
			match: []bool{false},
		},
		{
			name:  "quoted etag is unquoted",
			body:  records(s3Record("ObjectCreated:Put", b, k, `"abc"`)),
			want:  [][3]string{{b, k, "ObjectCreated:Put"}},
			match: []bool{true},
		},
		{
			name:  "one bad record among good ones is skipped",
			body:  records(`{"eventName":"ObjectCreated:Put"}`, s3Record("ObjectCreated:Put", b, k, "e")),
			want:  [][3]string{{b, k, "ObjectCreated:Put"}},
			match: []bool{true},
		},
		{name: "empty records list", body: []byte(`{"Records":[]}`)},
		{name: "sns envelope with a bad inner message", body: snsEnvelope("not json {"), err: ErrMalformed},
		{name: "sns envelope with an inner message of unknown shape", body: snsEnvelope(`{"hello":"world"}`), err: ErrMalformed},
		{name: "sns envelope nested twice", body: snsEnvelope(string(snsEnvelope(string(records(s3Record("ObjectCreated:Put", b, k, "e")))))), err: ErrMalformed},
		{name: "sns message not a string", body: []byte(`{"Type":"Notification","Message":{"Records":[]}}`), err: ErrMalformed},
		{name: "empty body", body: nil, err: ErrMalformed},
		{name: "whitespace", body: []byte(" \n\t "), err: ErrMalformed},
		{name: "garbage", body: []byte("\x00\xff\xfegarbage"), err: ErrMalformed},
		{name: "json array", body: []byte(`[1,2,3]`), err: ErrMalformed},
		{name: "json string", body: []byte(`"Records"`), err: ErrMalformed},
		{name: "unknown object", body: []byte(`{"foo":"bar"}`), err: ErrMalformed},
		{name: "truncated", body: mustRead(t, "aws-s3-direct-put.json")[:100], err: ErrMalformed},
		{name: "records not a list", body: []byte(`{"Records":{"a":1}}`), err: ErrMalformed},
		{name: "record without s3", body: records(`{"eventName":"ObjectCreated:Put"}`), err: ErrMalformed},
		{name: "record that is not an object", body: records(`42`), err: ErrMalformed},
		{name: "record with a bad key encoding", body: records(s3Record("ObjectCreated:Put", b, "bad%zzkey", "e")), err: ErrMalformed},
		{name: "eventbridge without key", body: []byte(`{"detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{}}}`), err: ErrMalformed},
		{name: "minio wrapper with a key without slash", body: []byte(`{"EventName":"s3:ObjectCreated:Put","Key":"nobucket"}`), err: ErrMalformed},
		{name: "huge body", body: []byte(`{"Records":[` + strings.Repeat(" ", MaxBodySize) + `]}`), err: ErrMalformed},
		{name: "deep nesting", body: []byte(strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)), err: ErrMalformed},
	}
	filter := Filter{Bucket: b, Key: k}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if len(got) != 0 {
					t.Fatalf("got hints %+v with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d hints %+v, want %d", len(got), got, len(tt.want))
			}
			for i, h := range got {
				if w := tt.want[i]; h.Bucket != w[0] || h.Key != w[1] || h.EventName != w[2] {
					t.Errorf("hint %d = (%q, %q, %q), want %q", i, h.Bucket, h.Key, h.EventName, w)
				}
				if m := filter.Match(h); m != tt.match[i] {
					t.Errorf("hint %d: Match = %v, want %v", i, m, tt.match[i])
				}
			}
		})
	}
}

func TestParseETagAndTime(t *testing.T) {
	got, err := Parse(records(s3Record("ObjectCreated:Put", "b", "k", `"9b2c"`)))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ETag != "9b2c" {
		t.Errorf("ETag = %q, want unquoted 9b2c", got[0].ETag)
	}
	if want := mustTime(t, "2026-11-25T10:00:00.123Z"); !got[0].EventTime.Equal(want) {
		t.Errorf("EventTime = %v, want %v", got[0].EventTime, want)
	}

	got, err = Parse([]byte(`{"Records":[{"eventName":"ObjectCreated:Put","eventTime":"yesterday","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].EventTime.IsZero() {
		t.Errorf("unparsable time gave %v, want zero", got[0].EventTime)
	}
}

func TestFilterMatch(t *testing.T) {
	f := Filter{Bucket: "b", Key: "k"}
	tests := []struct {
		h    Hint
		want bool
	}{
		{Hint{Bucket: "b", Key: "k", EventName: "ObjectCreated:Put"}, true},
		{Hint{Bucket: "b", Key: "k", EventName: "s3:ObjectCreated:Copy"}, true},
		{Hint{Bucket: "b", Key: "k", EventName: "Object Created"}, true},
		{Hint{Bucket: "b", Key: "k", EventName: "ObjectRemoved:Delete"}, false},
		{Hint{Bucket: "b", Key: "k", EventName: "s3:ObjectRemoved:DeleteMarkerCreated"}, false},
		{Hint{Bucket: "b", Key: "k", EventName: "Object Deleted"}, false},
		{Hint{Bucket: "b", Key: "k", EventName: "ObjectRestore:Completed"}, false},
		{Hint{Bucket: "b", Key: "k", EventName: ""}, false},
		{Hint{Bucket: "b", Key: "k2", EventName: "ObjectCreated:Put"}, false},
		{Hint{Bucket: "B", Key: "k", EventName: "ObjectCreated:Put"}, false},
		{Hint{Bucket: "b", Key: "/k", EventName: "ObjectCreated:Put"}, false},
	}
	for _, tt := range tests {
		if got := f.Match(tt.h); got != tt.want {
			t.Errorf("Match(%+v) = %v, want %v", tt.h, got, tt.want)
		}
	}
	if (Filter{}).Match(Hint{EventName: "ObjectCreated:Put"}) {
		t.Error("empty filter matched")
	}
}

func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(mustRead(f, e.Name()))
		}
	}
	f.Add([]byte(`{"Records":[]}`))
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Records\":[{}]}"}`))
	f.Add([]byte(`{"EventName":"s3:ObjectCreated:Put","Key":"b/k"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		hints, err := Parse(body)
		// Reading in place, decoding the whole message and decoding
		// record by record must agree.
		for _, p := range []pass{passWhole, passByRecord} {
			pHints, pErr := parseWith(body, 0, p)
			if !reflect.DeepEqual(hints, pHints) || (err == nil) != (pErr == nil) ||
				errors.Is(err, ErrTestEvent) != errors.Is(pErr, ErrTestEvent) {
				t.Fatalf("in place first: %+v, %v; pass %d first: %+v, %v", hints, err, p, pHints, pErr)
			}
		}
		if err != nil {
			if len(hints) != 0 {
				t.Fatalf("hints %+v returned with error %v", hints, err)
			}
			if !errors.Is(err, ErrTestEvent) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is neither ErrTestEvent nor ErrMalformed", err)
			}
			return
		}
		for _, h := range hints {
			if h.Bucket == "" || h.Key == "" {
				t.Fatalf("hint without bucket or key: %+v", h)
			}
			// Whatever Parse returns, matching must not panic and must
			// agree with the exact-equality rule.
			f := Filter{Bucket: h.Bucket, Key: h.Key}
			if f.Match(h) != IsCreated(h.EventName) {
				t.Fatalf("Match disagrees with IsCreated for %+v", h)
			}
		}
	})
}

// BenchmarkParseMinIO: the event every reader decodes per IAM change
// (MinIO's NATS wrapper around one S3 record).
func BenchmarkParseMinIO(b *testing.B) {
	body := mustRead(b, "minio-nats-put.json")
	for _, mode := range []struct {
		name string
		pass pass
	}{{"in-place", passInPlace}, {"one-pass", passWhole}, {"record-by-record", passByRecord}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if h, err := parseWith(body, 0, mode.pass); err != nil || len(h) != 1 {
					b.Fatalf("%v %v", h, err)
				}
			}
		})
	}
}
