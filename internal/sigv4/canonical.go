package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// isUnreserved reports whether c is left as is by AWS URI encoding.
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendURIEncode appends s encoded the AWS way: every byte except the
// unreserved ones (and '/' when keepSlash) becomes %XX with upper-case hex.
func appendURIEncode(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || keepSlash && c == '/' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

// uriEncode returns s AWS-URI-encoded ('/' encoded too); s itself when
// nothing needs encoding.
func uriEncode(s string) string {
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			return string(appendURIEncode(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

// appendCanonicalURI appends the S3 canonical URI of an escaped request
// path: each segment decoded once and re-encoded once, '/' kept, no dot
// segment or slash normalisation (S3 keys may contain them).
func appendCanonicalURI(dst []byte, escapedPath string) []byte {
	if escapedPath == "" {
		return append(dst, '/')
	}
	rest := escapedPath
	for {
		seg := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		}
		if strings.IndexByte(seg, '%') >= 0 && validEscapes(seg) {
			dst = appendUnescapedURIEncode(dst, seg)
		} else {
			dst = appendURIEncode(dst, seg, false)
		}
		if i < 0 {
			return dst
		}
		dst = append(dst, '/')
	}
}

// validEscapes reports whether every '%' in s starts a %XX escape, the
// condition for url.PathUnescape to succeed.
func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// appendUnescapedURIEncode appends appendURIEncode(url.PathUnescape(s))
// for an s with valid escapes, without the intermediate string.
func appendUnescapedURIEncode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if isUnreserved(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

// appendCanonicalQuery appends the canonical query string: parameters
// encoded, sorted by encoded name then value, skip left out (presigned
// URLs leave out X-Amz-Signature).
func appendCanonicalQuery(dst []byte, q []queryPair, skip string) []byte {
	if len(q) == 0 {
		return dst
	}
	enc := make([]queryPair, 0, len(q))
	for _, kv := range q {
		if skip != "" && kv.key == skip {
			continue
		}
		enc = append(enc, queryPair{key: uriEncode(kv.key), value: uriEncode(kv.value)})
	}
	slices.SortFunc(enc, func(a, b queryPair) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	for i, kv := range enc {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, kv.key...)
		dst = append(dst, '=')
		dst = append(dst, kv.value...)
	}
	return dst
}

// appendTrimmedValue appends a header value with leading and trailing
// spaces removed and runs of spaces collapsed to one.
func appendTrimmedValue(dst []byte, v string) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return appendCollapsedSpaces(dst, v)
}

// appendCollapsedSpaces appends v with every run of spaces collapsed to
// one, copying the runs between them whole.
func appendCollapsedSpaces(dst []byte, v string) []byte {
	for {
		i := strings.Index(v, "  ")
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i+1]...)
		v = v[i+1:]
		for len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
	}
}

// headerValues returns the values of the header with the lower-case name
// lower, without allocating in the usual case of a canonical key.
func headerValues(h http.Header, lower string) []string {
	var buf [64]byte
	if len(lower) <= len(buf) {
		k := buf[:len(lower)]
		upper := true
		for i := 0; i < len(lower); i++ {
			c := lower[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			k[i] = c
			upper = c == '-'
		}
		if v, ok := h[string(k)]; ok {
			return v
		}
	}
	for name, v := range h {
		if strings.EqualFold(name, lower) {
			return v
		}
	}
	return nil
}

// appendCanonicalHeaders appends "name:value\n" for every signed header, in
// the order of the SignedHeaders list. host comes from r.Host; headers the
// Go server moves out of r.Header are rebuilt from the request fields.
func appendCanonicalHeaders(dst []byte, r *http.Request, signedHeaders string) []byte {
	list := signedHeaders
	for list != "" {
		var name string
		name, list = cutSignedHeader(list)
		dst = append(dst, name...)
		dst = append(dst, ':')
		if name == "host" {
			dst = appendTrimmedValue(dst, r.Host)
			dst = append(dst, '\n')
			continue
		}
		vals := headerValues(r.Header, name)
		if len(vals) == 0 {
			switch {
			case name == "content-length" && r.ContentLength > 0:
				dst = strconv.AppendInt(dst, r.ContentLength, 10)
			case name == "transfer-encoding" && len(r.TransferEncoding) > 0:
				dst = append(dst, strings.Join(r.TransferEncoding, ",")...)
			}
		}
		for i, v := range vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTrimmedValue(dst, v)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// canonicalInput is what a canonical request is built from.
type canonicalInput struct {
	method        string
	escapedPath   string
	query         []queryPair
	skipQuery     string // parameter left out of the canonical query
	signedHeaders string
	payloadHash   string
}

// appendCanonicalRequest appends the canonical request for in and r's headers.
func appendCanonicalRequest(dst []byte, r *http.Request, in canonicalInput) []byte {
	dst = append(dst, in.method...)
	dst = append(dst, '\n')
	dst = appendCanonicalURI(dst, in.escapedPath)
	dst = append(dst, '\n')
	dst = appendCanonicalQuery(dst, in.query, in.skipQuery)
	dst = append(dst, '\n')
	dst = appendCanonicalHeaders(dst, r, in.signedHeaders)
	dst = append(dst, '\n')
	dst = append(dst, in.signedHeaders...)
	dst = append(dst, '\n')
	dst = append(dst, in.payloadHash...)
	return dst
}

// appendStringToSign appends the SigV4 string to sign for a canonical request.
func appendStringToSign(dst []byte, amzDate, scope string, canonicalRequest []byte) []byte {
	sum := sha256.Sum256(canonicalRequest)
	dst = appendStringToSignPrefix(dst, amzDate, scope)
	return hex.AppendEncode(dst, sum[:])
}

// appendStringToSignPrefix appends the string to sign up to the hash of
// the canonical request.
func appendStringToSignPrefix(dst []byte, amzDate, scope string) []byte {
	dst = append(dst, algorithm...)
	dst = append(dst, '\n')
	dst = append(dst, amzDate...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	return append(dst, '\n')
}

// headerGet is h.Get(key) for a key already in canonical form, without
// canonicalising it again.
func headerGet(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
