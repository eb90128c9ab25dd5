package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dgp-proxy/dgp/internal/app"
)

func TestPayloadReaderServesPrefix(t *testing.T) {
	p, err := newPayload(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(p.data, []byte{0}) > 1<<10 {
		t.Fatalf("payload does not look random")
	}
	for _, n := range []int64{1, 4096, 1 << 16} {
		got, err := io.ReadAll(p.reader(n))
		if err != nil || !bytes.Equal(got, p.data[:n]) {
			t.Fatalf("reader(%d) served %d bytes (err %v), want the first %d of the payload", n, len(got), err, n)
		}
		sum := sha256.Sum256(p.data[:n])
		if h := p.sha256Hex(n); h != hex.EncodeToString(sum[:]) {
			t.Errorf("sha256Hex(%d) = %s", n, h)
		}
	}
	// Every request of a size shares the payload: reading allocates nothing.
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(20, func() {
		r := p.reader(1 << 16)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	})
	if allocs > 1 {
		t.Errorf("serving the payload allocated %.0f times per body, want at most the reader", allocs)
	}
}

func TestDrain(t *testing.T) {
	buf := make([]byte, 7)
	n, err := drain(iotest.HalfReader(strings.NewReader("hello, world")), buf)
	if n != 12 || err != nil {
		t.Errorf("drain = %d, %v; want 12, nil", n, err)
	}
	boom := errors.New("boom")
	n, err = drain(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), buf)
	if n != 3 || !errors.Is(err, boom) {
		t.Errorf("drain = %d, %v; want 3, boom", n, err)
	}
}

func TestPlainBodyHidesWriterTo(t *testing.T) {
	var rc io.ReadCloser = plainBody{bytes.NewReader([]byte("x"))}
	if _, ok := rc.(io.WriterTo); ok {
		t.Fatal("plainBody offers WriterTo; a server's request body does not")
	}
}

func TestDiscardWriter(t *testing.T) {
	w := &discardWriter{h: http.Header{}, buf: make([]byte, 5)}
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	w.WriteHeader(http.StatusNotFound) // too late: the status is 200
	n, err := w.ReadFrom(strings.NewReader("0123456789"))
	if n != 10 || err != nil || w.n != 13 || w.status != http.StatusOK {
		t.Errorf("ReadFrom = %d, %v; total %d, status %d", n, err, w.n, w.status)
	}
}

func TestCaptureTransportGivesServerView(t *testing.T) {
	ct := &captureTransport{}
	c := newS3Client(&http.Client{Transport: ct}, "http://127.0.0.1:1234", "AKIDEXAMPLE", "secret-secret")
	r, err := sdkGetRequestFrom(t.Context(), c, ct, "bucket", "a key/with+odd chars")
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != http.MethodGet || r.Host != "127.0.0.1:1234" || r.URL.Path != "/bucket/a key/with+odd chars" || r.RequestURI == "" {
		t.Errorf("captured %s %q host %q uri %q", r.Method, r.URL.Path, r.Host, r.RequestURI)
	}
	if a := r.Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") {
		t.Errorf("Authorization = %q", a)
	}
}

func TestBenchVerify(t *testing.T) {
	creds := app.RootCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret-secret"}
	r, err := sdkGetRequest(t.Context(), "http://127.0.0.1:1234", "bucket", "key", creds)
	if err != nil {
		t.Fatal(err)
	}
	v, err := benchVerify(r, creds)
	if err != nil {
		t.Fatal(err)
	}
	if v.n == 0 || v.nsPerOp <= 0 {
		t.Errorf("benchVerify = %+v", v)
	}
	wrong := app.RootCredentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: "another-secret"}
	if _, err := benchVerify(r, wrong); err == nil {
		t.Error("benchVerify accepted a request signed with another secret")
	}
}
