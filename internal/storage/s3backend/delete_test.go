package s3backend

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestDeleteObjectsBatch: one DeleteObjects request carries every plain
// delete (the bypass header, Content-MD5, not quiet), and each object's
// outcome is read from the answer by key: markers created, per-key errors
// translated as DeleteObject's would be (MinIO's WORM refusal is
// AccessDenied), a key named twice answered twice (and one named twice,
// answered once, has that answer twice), an object the answer leaves out
// an error of its own. An object naming a version is left to the caller
// (storage.ErrNotBatched: DeleteObject's answer says whether it was a
// marker), as is a key XML cannot carry.
func TestDeleteObjectsBatch(t *testing.T) {
	stub := newS3Stub(t)
	const answer = `<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		`<Deleted><Key>plain</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>m-new</DeleteMarkerVersionId></Deleted>` +
		`<Deleted><Key>a &amp; b</Key></Deleted>` +
		`<Error><Key>locked</Key><Code>InvalidRequest</Code><Message>Object is WORM protected and cannot be overwritten</Message></Error>` +
		`<Error><Key>odd</Key><Code>SomethingNew</Code><Message>new code</Message></Error>` +
		`<Deleted><Key>twice</Key></Deleted><Deleted><Key>twice</Key></Deleted>` +
		`<Deleted><Key>not-asked</Key></Deleted>` +
		`</DeleteResult>`
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, answer)
	})
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	objs := []storage.ObjectToDelete{
		{Key: "plain"}, {Key: "a & b"}, {Key: "marked", VersionID: "m1"}, {Key: "locked"},
		{Key: "odd"}, {Key: "twice"}, {Key: "twice"}, {Key: "left-out"}, {Key: "plain"},
	}
	out, err := fast.DeleteObjects(context.Background(), "bkt", objs, true)
	if err != nil {
		t.Fatal(err)
	}
	reqs := stub.take()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	req := reqs[0]
	if req.Method != http.MethodPost || !strings.HasPrefix(req.RequestURI, "/bkt?delete") ||
		req.Header.Get("X-Amz-Bypass-Governance-Retention") != "true" {
		t.Fatalf("request %s %s %v", req.Method, req.RequestURI, req.Header)
	}
	if sum := md5.Sum(req.Body); req.Header.Get("Content-Md5") != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("Content-MD5 %q (S3 requires it on DeleteObjects)", req.Header.Get("Content-Md5"))
	}
	var body struct {
		Quiet   bool
		Objects []struct{ Key, VersionId string } `xml:"Object"`
	}
	if err := xml.Unmarshal(req.Body, &body); err != nil {
		t.Fatalf("body %s: %v", req.Body, err)
	}
	if body.Quiet || len(body.Objects) != len(objs)-1 || body.Objects[1].Key != "a & b" || body.Objects[1].VersionId != "" {
		t.Fatalf("body %s", req.Body)
	}

	want := []storage.DeleteResult{
		{VersionID: "m-new", DeleteMarker: true}, {}, {},
		{}, {}, {}, {}, {}, {VersionID: "m-new", DeleteMarker: true},
	}
	for i, o := range out {
		switch i {
		case 2:
			if !errors.Is(o.Err, storage.ErrNotBatched) {
				t.Errorf("marked: %v, want ErrNotBatched", o.Err)
			}
		case 3:
			if !errors.Is(o.Err, s3err.ErrAccessDenied) {
				t.Errorf("locked: %v, want AccessDenied", o.Err)
			}
		case 4:
			var se *s3err.Error
			if !errors.As(o.Err, &se) || se.Code != "SomethingNew" || se.Message != "new code" {
				t.Errorf("odd: %v", o.Err)
			}
		case 7:
			if !errors.Is(o.Err, s3err.ErrInternalError) {
				t.Errorf("left out: %v, want InternalError", o.Err)
			}
		default:
			if o.Err != nil || !reflect.DeepEqual(o.Result, want[i]) {
				t.Errorf("%d %+v: %+v, want %+v", i, objs[i], o, want[i])
			}
		}
	}

	// A key XML cannot carry is left to the caller too.
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_, _ = io.WriteString(w, "<DeleteResult></DeleteResult>")
		}
	})
	out, err = fast.DeleteObjects(context.Background(), "bkt", []storage.ObjectToDelete{{Key: "ctl\x01"}, {Key: "fine"}}, false)
	if err != nil || len(out) != 2 || !errors.Is(out[0].Err, storage.ErrNotBatched) || out[1].Err == nil || errors.Is(out[1].Err, storage.ErrNotBatched) {
		t.Fatalf("control character: %+v, %v", out, err) // "fine" is not in the (empty) answer
	}
	if reqs := stub.take(); len(reqs) != 1 || reqs[0].Method != http.MethodPost || strings.Contains(string(reqs[0].Body), "ctl") {
		t.Fatalf("control character: %+v", reqs)
	}

	// A failed request fails the call; NotImplemented says so.
	for code, status := range map[string]int{"NoSuchBucket": http.StatusNotFound, "NotImplemented": http.StatusNotImplemented} {
		stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, s3ErrorXML(code, "no"))
		})
		_, err := fast.DeleteObjects(context.Background(), "bkt", objs[:1], false)
		var se *s3err.Error
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("%s answer: %v", code, err)
		}
		if reqs := stub.take(); len(reqs) != 1 || reqs[0].Header.Get("X-Amz-Bypass-Governance-Retention") != "" {
			t.Errorf("%s: %d requests %+v", code, len(reqs), reqs)
		}
	}
	// Without the fast path: NotImplemented at once (the caller deletes
	// key by key).
	if _, err := sdk.DeleteObjects(context.Background(), "bkt", objs, false); !errors.Is(err, s3err.ErrNotImplemented) {
		t.Errorf("without the fast path: %v", err)
	}
	if reqs := stub.take(); len(reqs) != 0 {
		t.Errorf("without the fast path: %d requests", len(reqs))
	}
}

// TestDeleteObjectsChunks: more than 1,000 objects go in requests of at
// most 1,000, every object answered. (A plain test server and the
// backend's own client: through s3Stub's rerouting client the SDK now and
// then found the answer's connection closed under it, which neither this
// server nor MinIO shows.)
func TestDeleteObjectsChunks(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var d struct {
			Objects []struct{ Key string } `xml:"Object"`
		}
		if err := xml.Unmarshal(body, &d); err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.RequestURI, "/bkt?delete") {
			http.Error(w, "not a DeleteObjects request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		sizes = append(sizes, len(d.Objects))
		mu.Unlock()
		var b strings.Builder
		b.WriteString("<DeleteResult>")
		for _, o := range d.Objects {
			b.WriteString("<Deleted><Key>" + o.Key + "</Key></Deleted>")
		}
		b.WriteString("</DeleteResult>")
		_, _ = io.WriteString(w, b.String())
	}))
	defer srv.Close()
	b, err := New(context.Background(), Options{Endpoint: srv.URL, ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]storage.ObjectToDelete, 2500)
	for i := range objs {
		objs[i].Key = fmt.Sprintf("k%05d", i)
	}
	out, err := b.DeleteObjects(context.Background(), "bkt", objs, false)
	if err != nil || len(out) != len(objs) {
		t.Fatalf("%d outcomes, %v", len(out), err)
	}
	for i, o := range out {
		if o.Err != nil {
			t.Fatalf("%d: %v", i, o.Err)
		}
	}
	if !reflect.DeepEqual(sizes, []int{1000, 1000, 500}) {
		t.Fatalf("requests of %v keys, want 1000, 1000, 500", sizes)
	}
}
