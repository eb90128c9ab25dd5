package sigv4

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Signer signs outgoing requests with SigV4 (Authorization header) exactly
// as aws-sdk-go-v2's v4.Signer.SignHTTP does with DisableURIPathEscaping
// set (S3's path is signed as escaped once), at a fraction of its cost:
// the signing key and its HMAC states are cached, the canonical request
// is built in a pooled buffer, and the headers it adds share one
// allocation. It is safe for concurrent use.
type Signer struct {
	keys *keyCache
	macs macPool
	date atomic.Pointer[signDate]
}

// signDate is the X-Amz-Date of one second, reused while it lasts.
type signDate struct {
	unix    int64
	amzDate string
}

// NewSigner returns a Signer.
func NewSigner() *Signer {
	return &Signer{keys: newKeyCache()}
}

// Credentials are what a request is signed with.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// ignoredSignHeader reports the headers aws-sdk-go-v2 leaves out of the
// signature (matched as the SDK matches them: exact map keys).
func ignoredSignHeader(k string) bool {
	switch k {
	case "Authorization", "User-Agent", "X-Amzn-Trace-Id", "Expect", "Transfer-Encoding":
		return true
	}
	return false
}

// signedHeader is one header of the canonical request.
type signedHeader struct {
	lower string
	vals  []string
	more  []string // values of a second header key with the same lower-case name
}

// SignHTTP sets r's X-Amz-Date (and X-Amz-Security-Token with a session
// token) and Authorization headers, rewrites its query string into the
// canonical form and drops a default port from its Host, as the SDK does.
// payloadHash is the x-amz-content-sha256 value signed (the caller sets
// the header).
func (s *Signer) SignHTTP(r *http.Request, c Credentials, payloadHash, service, region string, t time.Time) {
	amzDate := s.amzDate(t)
	// One allocation for the values of the headers the signature adds.
	vals := make([]string, 3)
	vals[0] = amzDate
	r.Header["X-Amz-Date"] = vals[0:1:1]
	if c.SessionToken != "" {
		vals[2] = c.SessionToken
		r.Header["X-Amz-Security-Token"] = vals[2:3:3]
	}
	if r.URL.RawQuery != "" {
		r.URL.RawQuery = sdkEncodeQuery(r.URL.Query())
	}
	sanitizeHost(r)
	host := r.URL.Host
	if r.Host != "" {
		host = r.Host
	}

	var stack [16]signedHeader
	hs := stack[:0]
	hs = append(hs, signedHeader{lower: "host"})
	if r.ContentLength > 0 {
		hs = append(hs, signedHeader{lower: "content-length"})
	}
	for k, v := range r.Header {
		if ignoredSignHeader(k) || strings.EqualFold(k, "content-length") {
			continue
		}
		lower := asciiLower(k)
		dup := false
		for i := range hs {
			if hs[i].lower == lower {
				// The SDK merges the values of keys with the same
				// lower-case name (and ignores them for host).
				hs[i].more = append(hs[i].more, v...)
				dup = true
				break
			}
		}
		if !dup {
			hs = append(hs, signedHeader{lower: lower, vals: v})
		}
	}
	slices.SortFunc(hs, func(a, b signedHeader) int { return strings.Compare(a.lower, b.lower) })

	date := amzDate[:8]
	key := s.keys.key(c.SecretAccessKey, date, region, service)
	sc := s.macs.get()
	defer s.macs.put(sc)
	buf := sc.buf[:0]

	// Canonical request.
	buf = append(buf, r.Method...)
	buf = append(buf, '\n')
	buf = append(buf, sdkURIPath(r.URL)...)
	buf = append(buf, '\n')
	buf = append(buf, r.URL.RawQuery...)
	buf = append(buf, '\n')
	for _, h := range hs {
		buf = append(buf, h.lower...)
		buf = append(buf, ':')
		switch h.lower {
		case "host":
			buf = appendStripExcessSpaces(buf, host, false)
		case "content-length": // only from r.ContentLength > 0
			buf = strconv.AppendInt(buf, r.ContentLength, 10)
		default:
			n := 0
			for _, list := range [2][]string{h.vals, h.more} {
				for _, v := range list {
					if n > 0 {
						buf = append(buf, ',')
					}
					n++
					buf = appendStripExcessSpaces(buf, v, true)
				}
			}
		}
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	shStart := len(buf)
	for i, h := range hs {
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = append(buf, h.lower...)
	}
	shEnd := len(buf)
	buf = append(buf, '\n')
	buf = append(buf, payloadHash...)
	cr := buf

	// String to sign, then the Authorization header.
	stsStart := len(buf)
	buf = appendStringToSignPrefix(buf, amzDate, "")
	buf = buf[:len(buf)-1] // no scope yet
	scopeStart := len(buf)
	buf = append(buf, date...)
	buf = append(buf, '/')
	buf = append(buf, region...)
	buf = append(buf, '/')
	buf = append(buf, service...)
	buf = append(buf, "/"+scopeTerminator...)
	scopeEnd := len(buf)
	buf = append(buf, '\n')
	buf = sc.appendSHA256Hex(buf, cr)
	sig := sc.signature(key, buf[stsStart:])

	authStart := len(buf)
	buf = append(buf, algorithm+" Credential="...)
	buf = append(buf, c.AccessKeyID...)
	buf = append(buf, '/')
	buf = append(buf, buf[scopeStart:scopeEnd]...)
	buf = append(buf, ", SignedHeaders="...)
	buf = append(buf, buf[shStart:shEnd]...)
	buf = append(buf, ", Signature="...)
	buf = append(buf, sig[:]...)
	vals[1] = string(buf[authStart:])
	r.Header["Authorization"] = vals[1:2:2]
	sc.buf = buf
}

// amzDate formats t (UTC) as X-Amz-Date, reusing the last second's string.
func (s *Signer) amzDate(t time.Time) string {
	t = t.UTC()
	sec := t.Unix()
	if d := s.date.Load(); d != nil && d.unix == sec {
		return d.amzDate
	}
	d := &signDate{unix: sec, amzDate: t.Format(amzDateFormat)}
	s.date.Store(d)
	return d.amzDate
}

// asciiLower is strings.ToLower without allocating for the usual header
// names: canonical keys are mapped through a small table of known names.
func asciiLower(k string) string {
	switch k {
	case "Accept-Encoding":
		return "accept-encoding"
	case "X-Amz-Content-Sha256":
		return "x-amz-content-sha256"
	case "X-Amz-Date":
		return "x-amz-date"
	case "X-Amz-Security-Token":
		return "x-amz-security-token"
	case "Range":
		return "range"
	case "Content-Type":
		return "content-type"
	case "Content-Md5":
		return "content-md5"
	case "If-Match":
		return "if-match"
	case "If-None-Match":
		return "if-none-match"
	case "If-Modified-Since":
		return "if-modified-since"
	case "If-Unmodified-Since":
		return "if-unmodified-since"
	}
	return strings.ToLower(k)
}

// appendStripExcessSpaces appends v as the SDK's StripExcessSpaces leaves
// it (leading and trailing spaces removed, runs of spaces collapsed), then
// strings.TrimSpace when trim is set.
func appendStripExcessSpaces(dst []byte, v string, trim bool) []byte {
	j := len(v) - 1
	for j >= 0 && v[j] == ' ' {
		j--
	}
	k := 0
	for k < j && v[k] == ' ' {
		k++
	}
	v = v[k : j+1]
	if trim {
		v = strings.TrimSpace(v)
	}
	return appendCollapsedSpaces(dst, v)
}

// sanitizeHost drops a default port (80 for http, 443 for https) from the
// request's host, as the SDK's SanitizeHostForHeader does.
func sanitizeHost(r *http.Request) {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	colon := strings.IndexByte(host, ':')
	if colon < 0 {
		return
	}
	var port string
	if i := strings.Index(host, "]:"); i >= 0 {
		port = host[i+2:]
	} else if strings.Contains(host, "]") {
		return
	} else {
		port = host[colon+1:]
	}
	scheme := strings.ToLower(r.URL.Scheme)
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		return
	}
	if i := strings.IndexByte(host, ']'); i >= 0 {
		r.Host = strings.TrimPrefix(host[:i], "[")
		return
	}
	r.Host = host[:colon]
}

// sdkURIPath is the SDK's GetURIPath: the escaped path ("/" when empty),
// or the path part of an opaque URL.
func sdkURIPath(u *url.URL) string {
	var p string
	if len(u.Opaque) > 0 {
		opaque := u.Opaque
		if i := strings.Index(opaque, "?"); i >= 0 {
			opaque = opaque[:i]
		}
		if strings.Index(opaque, "//") == 0 {
			opaque = opaque[2:]
		}
		if i := strings.Index(opaque, "/"); i >= 0 {
			p = opaque[i:]
		}
	} else {
		p = u.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// sdkEncodeQuery is the SDK's EncodeQuery: parameters query-escaped ('+'
// as %20), sorted by name then value.
func sdkEncodeQuery(q url.Values) string {
	type param struct{ k, v string }
	params := make([]param, 0, len(q))
	for k, vs := range q {
		ek := sdkQueryEscape(k)
		for _, v := range vs {
			params = append(params, param{ek, sdkQueryEscape(v)})
		}
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func sdkQueryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
