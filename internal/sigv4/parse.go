package sigv4

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// amzDateFormat is the ISO 8601 basic format of x-amz-date and X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// maxPresignExpires is the longest X-Amz-Expires S3 accepts (7 days).
const maxPresignExpires = 7 * 24 * 60 * 60

// credential is a parsed Credential (X-Amz-Credential) value:
// <access key id>/<yyyymmdd>/<region>/<service>/aws4_request.
type credential struct {
	accessKeyID string
	date        string
	region      string
	service     string
	// scope is "<date>/<region>/<service>/aws4_request", a substring of the input.
	scope string
}

// parseCredential parses a credential; the error is a message for the
// caller's S3 error (the code depends on header or query auth).
func parseCredential(v string) (credential, string) {
	const want = `expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"`
	// Split from the right: the scope has exactly four parts.
	var parts [4]string
	rest := v
	for i := 3; i >= 0; i-- {
		j := strings.LastIndexByte(rest, '/')
		if j < 0 {
			return credential{}, "the Credential is mal-formed; " + want
		}
		parts[i] = rest[j+1:]
		rest = rest[:j]
	}
	c := credential{
		accessKeyID: rest,
		date:        parts[0],
		region:      parts[1],
		service:     parts[2],
		scope:       v[len(rest)+1:],
	}
	switch {
	case c.accessKeyID == "":
		return credential{}, "the Credential is mal-formed; " + want
	case !validScopeDate(c.date):
		return credential{}, "the Credential is mal-formed; invalid date " + strconv.Quote(c.date)
	case c.region == "":
		return credential{}, "a non-empty region must be provided in the credential."
	case c.service != serviceS3:
		return credential{}, "incorrect service " + strconv.Quote(c.service) + ". This endpoint belongs to \"s3\"."
	case parts[3] != scopeTerminator:
		return credential{}, "incorrect terminal " + strconv.Quote(parts[3]) + ". This endpoint uses \"aws4_request\"."
	}
	return c, ""
}

func validScopeDate(d string) bool {
	if len(d) != 8 {
		return false
	}
	_, _, _, ok := parseYMD(d)
	return ok
}

// digits returns the decimal value of s, false unless every byte is a digit.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseYMD parses "YYYYMMDD" as time.Parse("20060102") does, without its
// cost: a valid month, and a day that exists in that month.
func parseYMD(s string) (year int, month time.Month, day int, ok bool) {
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[4:6])
	d, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return 0, 0, 0, false
	}
	return y, time.Month(m), d, true
}

// daysIn is the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// parseAmzDate parses an x-amz-date / X-Amz-Date value: what
// time.Parse(amzDateFormat, s) accepts, in UTC.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	y, m, d, ok := parseYMD(s[:8])
	if !ok {
		return time.Time{}, false
	}
	hh, ok1 := digits(s[9:11])
	mm, ok2 := digits(s[11:13])
	ss, ok3 := digits(s[13:15])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, false
	}
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC), true
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	cred          credential
	signedHeaders string // as sent: "host;x-amz-date"
	signature     string
}

// parseAuthorization parses an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
// header value. The error is a message for AuthorizationHeaderMalformed.
func parseAuthorization(v string) (authorization, string) {
	v = trimSpaceTab(v)
	rest, ok := strings.CutPrefix(v, algorithm)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return authorization{}, "the authorization header is malformed; expecting \"AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...\""
	}
	var a authorization
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = trimSpaceTab(part)
		key, val, ok := strings.Cut(part, "=")
		if !ok || val == "" {
			return authorization{}, "the authorization header is malformed; component " + strconv.Quote(truncate(part)) + " is not of the form key=value"
		}
		switch key {
		case "Credential":
			if haveCred {
				return authorization{}, "the authorization header is malformed; Credential appears twice"
			}
			haveCred = true
			c, msg := parseCredential(val)
			if msg != "" {
				return authorization{}, "the authorization header is malformed; " + msg
			}
			a.cred = c
		case "SignedHeaders":
			if haveSigned {
				return authorization{}, "the authorization header is malformed; SignedHeaders appears twice"
			}
			haveSigned = true
			if !validSignedHeaders(val) {
				return authorization{}, "the authorization header is malformed; SignedHeaders must be a ;-separated list of lower-case header names"
			}
			a.signedHeaders = val
		case "Signature":
			if haveSig {
				return authorization{}, "the authorization header is malformed; Signature appears twice"
			}
			haveSig = true
			a.signature = val
		default:
			return authorization{}, "the authorization header is malformed; unknown component " + strconv.Quote(truncate(key))
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return authorization{}, "the authorization header is malformed; Credential, SignedHeaders and Signature are all required"
	}
	return a, ""
}

// trimSpaceTab is strings.Trim(s, " \t") without building a cutset.
func trimSpaceTab(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// truncate shortens client-supplied text quoted in error messages.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// validSignedHeaders reports whether v is a non-empty ;-separated list of
// lower-case header field names.
func validSignedHeaders(v string) bool {
	if v == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ';' {
			if i == start {
				return false
			}
			start = i + 1
			continue
		}
		if !isLowerTokenByte(v[i]) {
			return false
		}
	}
	return true
}

// isLowerTokenByte reports whether c may appear in a lower-case HTTP field name.
func isLowerTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// cutSignedHeader is strings.Cut(list, ";") without its result flag: a
// plain loop, cheaper than IndexByte's call for names this short.
func cutSignedHeader(list string) (name, rest string) {
	for i := 0; i < len(list); i++ {
		if list[i] == ';' {
			return list[:i], list[i+1:]
		}
	}
	return list, ""
}

// hasSignedHeader reports whether name is in the ;-separated list.
func hasSignedHeader(list, name string) bool {
	for list != "" {
		var h string
		h, list = cutSignedHeader(list)
		if h == name {
			return true
		}
	}
	return false
}

// hasSignedHeaderFold is hasSignedHeader ignoring the case of name.
func hasSignedHeaderFold(list, name string) bool {
	// For an ASCII name only a name of the same length can match
	// (Unicode folding can match names of other lengths).
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			ascii = false
			break
		}
	}
	for list != "" {
		var h string
		h, list = cutSignedHeader(list)
		if ascii && len(h) != len(name) {
			continue
		}
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// queryPair is one decoded query parameter, in wire order.
type queryPair struct {
	key, value string
}

// parseQuery splits a raw query string into decoded pairs. Like S3 it treats
// '+' as a space. It fails only on a malformed percent escape.
func parseQuery(raw string) ([]queryPair, bool) {
	return appendQuery(nil, raw)
}

// appendQuery is parseQuery appending to dst.
func appendQuery(dst []queryPair, raw string) ([]queryPair, bool) {
	if raw == "" {
		return dst, true
	}
	pairs := dst
	if n := strings.Count(raw, "&") + 1; cap(pairs)-len(pairs) < n {
		pairs = make([]queryPair, len(dst), len(dst)+n)
		copy(pairs, dst)
	}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, false
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, false
		}
		pairs = append(pairs, queryPair{key: dk, value: dv})
	}
	return pairs, true
}

// presigned holds the X-Amz-* parameters of a presigned URL.
type presigned struct {
	cred          credential
	amzDate       string
	date          time.Time
	expires       int64
	signedHeaders string
	signature     string
	contentSHA256 string // X-Amz-Content-Sha256, optional
}

// The presigned-URL query parameters.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
	qContentSHA256 = "X-Amz-Content-Sha256"
)

// parsePresigned extracts and validates the presigned-URL parameters. The
// error is a message for AuthorizationQueryParametersError. The algorithm
// has already been checked by the caller.
func parsePresigned(q []queryPair) (presigned, string) {
	const required = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	var p presigned
	var cred, expires string
	var seen [7]bool
	set := func(i int, dst *string, v string) bool {
		if seen[i] {
			return false
		}
		seen[i] = true
		*dst = v
		return true
	}
	var alg string
	for _, kv := range q {
		ok := true
		switch kv.key {
		case qAlgorithm:
			ok = set(0, &alg, kv.value)
		case qCredential:
			ok = set(1, &cred, kv.value)
		case qDate:
			ok = set(2, &p.amzDate, kv.value)
		case qExpires:
			ok = set(3, &expires, kv.value)
		case qSignedHeaders:
			ok = set(4, &p.signedHeaders, kv.value)
		case qSignature:
			ok = set(5, &p.signature, kv.value)
		case qContentSHA256:
			ok = set(6, &p.contentSHA256, kv.value)
		}
		if !ok {
			return presigned{}, kv.key + " must appear only once."
		}
	}
	for i := 0; i < 6; i++ {
		if !seen[i] {
			return presigned{}, required
		}
	}
	c, msg := parseCredential(cred)
	if msg != "" {
		return presigned{}, "Error parsing the X-Amz-Credential parameter; " + msg
	}
	p.cred = c
	t, ok := parseAmzDate(p.amzDate)
	if !ok {
		return presigned{}, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
	}
	p.date = t
	if p.amzDate[:8] != c.date {
		return presigned{}, "Error parsing the X-Amz-Credential parameter; the date " + strconv.Quote(c.date) + " is not the same as X-Amz-Date " + strconv.Quote(p.amzDate[:8]) + "."
	}
	n, err := strconv.ParseInt(expires, 10, 64)
	switch {
	case err != nil:
		return presigned{}, "X-Amz-Expires should be a number"
	case n < 0:
		return presigned{}, "X-Amz-Expires must be non-negative"
	case n > maxPresignExpires:
		return presigned{}, "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"
	}
	p.expires = n
	if !validSignedHeaders(p.signedHeaders) {
		return presigned{}, "X-Amz-SignedHeaders must be a ;-separated list of lower-case header names"
	}
	if p.signature == "" {
		return presigned{}, required
	}
	return p, ""
}
