package s3backend

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/storage"
)

func TestVersionQuery(t *testing.T) {
	tests := []struct {
		part    int
		version string
		want    string
	}{
		{0, "", ""},
		{3, "", "partNumber=3"},
		{0, "null", "versionId=null"},
		{2, "a+b/c=d e", "partNumber=2&versionId=a%2Bb%2Fc%3Dd+e"},
	}
	for _, tt := range tests {
		got := versionQuery(tt.part, tt.version)
		if got != tt.want {
			t.Errorf("versionQuery(%d, %q) = %q, want %q", tt.part, tt.version, got, tt.want)
		}
		// What the SDK's serialiser makes of the same fields.
		v := url.Values{}
		if tt.part > 0 {
			v.Set("partNumber", strconv.Itoa(tt.part))
		}
		if tt.version != "" {
			v.Set("versionId", tt.version)
		}
		if enc := v.Encode(); enc != got {
			t.Errorf("versionQuery(%d, %q) = %q, url.Values gives %q", tt.part, tt.version, got, enc)
		}
	}
}

func TestLockHeadersRoundTrip(t *testing.T) {
	until := time.Date(2030, 5, 6, 7, 8, 9, 123e6, time.FixedZone("x", 7200))
	tests := []struct {
		name string
		in   storage.LockState
		want http.Header
	}{
		{"none", storage.LockState{}, http.Header{}},
		{"retention and hold", storage.LockState{Retention: storage.Retention{Mode: storage.LockGovernance, RetainUntil: until}, LegalHold: true, LegalHoldSet: true},
			http.Header{hdrLockMode: {"GOVERNANCE"}, hdrLockRetainUntil: {"2030-05-06T05:08:09.123Z"}, hdrLockLegalHold: {"ON"}}},
		{"hold off asked", storage.LockState{LegalHoldSet: true}, http.Header{hdrLockLegalHold: {"OFF"}}},
		{"hold on without set", storage.LockState{LegalHold: true}, http.Header{hdrLockLegalHold: {"ON"}}},
	}
	for _, tt := range tests {
		h := http.Header{}
		setLockHeaders(h, tt.in)
		if len(h) != len(tt.want) {
			t.Errorf("%s: headers %v, want %v", tt.name, h, tt.want)
		}
		for k, v := range tt.want {
			if h.Get(k) != v[0] {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, h.Get(k), v[0])
			}
		}
		// The SDK fields say the same.
		f := lockFields(tt.in)
		if string(f.mode) != h.Get(hdrLockMode) || string(f.hold) != h.Get(hdrLockLegalHold) || (f.until != nil) != (h.Get(hdrLockRetainUntil) != "") {
			t.Errorf("%s: lockFields %+v disagree with headers %v", tt.name, f, h)
		}
		back, err := lockFromHeaders(h)
		if err != nil {
			t.Fatalf("%s: lockFromHeaders: %v", tt.name, err)
		}
		wantBack := tt.in
		wantBack.LegalHoldSet = wantBack.LegalHoldSet || wantBack.LegalHold
		if !back.Retention.RetainUntil.Equal(wantBack.Retention.RetainUntil) || back.Retention.Mode != wantBack.Retention.Mode ||
			back.LegalHold != wantBack.LegalHold || back.LegalHoldSet != wantBack.LegalHoldSet {
			t.Errorf("%s: read back %+v, want %+v", tt.name, back, wantBack)
		}
	}
	if _, err := lockFromHeaders(http.Header{hdrLockRetainUntil: {"tomorrow"}}); err == nil {
		t.Errorf("unparsable retain-until date: no error")
	}
	if got := lockState(string(types.ObjectLockModeCompliance), nil, "OFF"); got != (storage.LockState{Retention: storage.Retention{Mode: "COMPLIANCE"}, LegalHoldSet: true}) {
		t.Errorf("lockState = %+v", got)
	}
}

// TestFastPathReadsVersionAndLock: the version id and lock state of a GET
// answer and the version id of a PUT answer reach the results (the
// differential tests show both paths agree; this shows what they agree on).
func TestFastPathReadsVersionAndLock(t *testing.T) {
	stub := newS3Stub(t)
	stub.setAnswer(okAnswer)
	fast, _ := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	ctx := context.Background()
	info, err := fast.HeadObject(ctx, "bkt", "k", storage.GetOptions{VersionID: "v 1"})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	want := storage.LockState{Retention: storage.Retention{Mode: "GOVERNANCE", RetainUntil: time.Date(2037, 1, 2, 3, 4, 5, 678e6, time.UTC)}, LegalHoldSet: true}
	if info.VersionID != "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" || !info.Lock.Retention.RetainUntil.Equal(want.Retention.RetainUntil) ||
		info.Lock.Retention.Mode != want.Retention.Mode || info.Lock.LegalHold || !info.Lock.LegalHoldSet {
		t.Errorf("HEAD info: version %q lock %+v", info.VersionID, info.Lock)
	}
	if reqs := stub.take(); len(reqs) != 1 || !strings.HasSuffix(reqs[0].RequestURI, "/bkt/k?versionId=v%201") {
		t.Errorf("HEAD sent %+v", reqs)
	}
	res, err := fast.PutObject(ctx, "bkt", "k", strings.NewReader("x"), 1, storage.PutOptions{})
	if err != nil || res.VersionID != "put-version_1.x" {
		t.Errorf("PutObject = %+v, %v", res, err)
	}
}
