package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// isClientOrNotImplemented accepts a client error or NotImplemented (a
// feature dgp refuses on purpose).
func isClientOrNotImplemented(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, s3err.ErrNotImplemented) {
		return
	}
	isClientError(t, err)
}

func FuzzVersioningConfiguration(f *testing.F) {
	f.Add([]byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`))
	f.Add([]byte(`<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`))
	f.Add([]byte(`<VersioningConfiguration><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`))
	f.Add([]byte(`<VersioningConfiguration/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseVersioning(data)
		isClientOrNotImplemented(t, err)
		if err == nil && st != storage.VersioningEnabled && st != storage.VersioningSuspended {
			t.Fatalf("status %q accepted", st)
		}
	})
}

func FuzzObjectLockConfiguration(f *testing.F) {
	f.Add([]byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`))
	f.Add([]byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>`))
	f.Add([]byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>-1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`))
	f.Add([]byte(`<ObjectLockConfiguration><Rule/></ObjectLockConfiguration>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseObjectLockConfiguration(data)
		isClientError(t, err)
		if err != nil {
			return
		}
		if !cfg.Enabled {
			t.Fatal("disabled configuration accepted")
		}
		if r := cfg.Rule; r != nil {
			if _, ok := parseLockMode(r.Mode); !ok || (r.Days > 0) == (r.Years > 0) || r.Days < 0 || r.Years < 0 {
				t.Fatalf("rule %+v accepted", r)
			}
		}
	})
}

func FuzzRetention(f *testing.F) {
	f.Add([]byte(`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>`))
	f.Add([]byte(`<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2001-01-01T00:00:00.123Z</RetainUntilDate></Retention>`))
	f.Add([]byte(`<Retention/>`))
	f.Add([]byte(`<Retention><Mode>GOVERNANCE</Mode></Retention>`))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := s.parseRetention(data)
		isClientError(t, err)
		if err != nil || r == (storage.Retention{}) {
			return
		}
		if _, ok := parseLockMode(r.Mode); !ok || !r.RetainUntil.After(now) {
			t.Fatalf("retention %+v accepted", r)
		}
	})
}

func FuzzACLBody(f *testing.F) {
	f.Add([]byte(`<AccessControlPolicy><Owner><ID>root</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>root</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`))
	f.Add([]byte(`<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`))
	f.Add([]byte(`<AccessControlPolicy/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkACLBody(data, "root")
		isClientError(t, err)
		if err != nil {
			return
		}
		var req aclRequest
		if xml.Unmarshal(data, &req) != nil || len(req.Grants) == 0 {
			t.Fatal("an ACL without grants accepted")
		}
		for _, g := range req.Grants {
			if g.Permission != "FULL_CONTROL" || g.Grantee.ID != "root" {
				t.Fatalf("grant %+v accepted", g)
			}
		}
	})
}

func FuzzLockHeaders(f *testing.F) {
	f.Add("GOVERNANCE", "2030-01-01T00:00:00Z", "ON")
	f.Add("COMPLIANCE", "2030-01-01T00:00:00.5+02:00", "")
	f.Add("", "", "OFF")
	f.Add("governance", "yesterday", "on")
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &Server{now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, mode, until, hold string) {
		h := http.Header{}
		for k, v := range map[string]string{hdrLockMode: mode, hdrLockRetainUntil: until, hdrLockLegalHold: hold} {
			if v != "" {
				h.Set(k, v)
			}
		}
		st, err := s.lockHeaders(h)
		isClientError(t, err)
		if err != nil {
			return
		}
		if (st.Retention.Mode != "") != (mode != "") || st.LegalHoldSet != (hold != "") {
			t.Fatalf("headers %q %q %q gave %+v", mode, until, hold, st)
		}
		if st.Retention.Mode != "" && !st.Retention.RetainUntil.After(now) {
			t.Fatalf("past date accepted: %+v", st)
		}
	})
}

// FuzzEscapeXMLText checks escaped text against encoding/xml: keys it can
// carry decode back unchanged; the others round-trip through the
// references and never carry a raw control character.
func FuzzEscapeXMLText(f *testing.F) {
	f.Add("plain/key.txt")
	f.Add("a\x01b\x7f&<>\"'\r\n\t")
	f.Add("ünïcødé \uFFFE")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		esc := escapeXMLText(s)
		for _, r := range esc {
			if needsXMLEscape(r) && r != '&' {
				t.Fatalf("raw %U in %q", r, esc)
			}
		}
		if back := unescapeRefs(esc); back != s {
			t.Fatalf("round trip %q -> %q -> %q", s, esc, back)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return needsXMLEscape(r) && r != '&' && r != '<' && r != '>' }) {
			return
		}
		var v struct {
			K string `xml:"K"`
		}
		if err := xml.Unmarshal([]byte("<x><K>"+esc+"</K></x>"), &v); err != nil || v.K != s {
			t.Fatalf("encoding/xml read %q as %q (%v)", esc, v.K, err)
		}
	})
}
