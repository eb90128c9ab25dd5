package s3backend

import (
	"bytes"
	"net/url"
)

// finish makes the strings of a scanned page: every key, ETag, version id
// and common prefix (and a version listing's next key marker) is decoded
// (XML entities, then, for keys, prefixes and the marker, URL encoding
// when the answer says EncodingType url, which S3 writes after the keys)
// into one buffer, and the page's strings are slices of one string made
// from it. A page of 1,000 keys costs two allocations instead of two or
// three per key; the strings keep that one string alive together, as a
// listing answer uses them together. A key whose URL encoding is malformed leaves badKey set
// (the listing then fails in toResult); malformed XML is errListShape.
func (p *listPage) finish() error {
	n := 0
	for i := range p.objects {
		n += len(p.objects[i].keyRaw) + len(p.objects[i].etagRaw) + len(p.objects[i].versionRaw)
	}
	for _, r := range p.prefixRaw {
		n += len(r)
	}
	n += len(p.nextKeyRaw)
	// Decoding never lengthens a text (an entity or a %XX is longer than
	// what it stands for), so n bounds the buffer.
	buf := make([]byte, 0, n)
	perObject := 2 // key, ETag
	if p.versions {
		perObject = 3 // and the version id
	}
	ends := make([]int, 0, perObject*len(p.objects)+len(p.prefixRaw)+1) // where each text ends in buf
	var scratch []byte
	var err error
	addKey := func(raw []byte) error {
		text := raw
		if bytes.IndexByte(raw, '&') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
			if scratch, err = appendUnescapedXML(scratch[:0], raw); err != nil {
				return err
			}
			text = scratch
		}
		if !p.urlEncoding {
			buf = append(buf, text...)
		} else if buf, err = appendQueryUnescaped(buf, text); err != nil && p.badKey == nil {
			p.badKey = err
		}
		ends = append(ends, len(buf))
		return nil
	}
	for i := range p.objects {
		o := &p.objects[i]
		if err := addKey(o.keyRaw); err != nil {
			return err
		}
		if e, q := o.etagRaw, entityQuoted(o.etagRaw); q > 0 {
			buf = append(append(append(buf, '"'), e[q:len(e)-q]...), '"')
		} else if buf, err = appendUnescapedXML(buf, e); err != nil {
			return err
		}
		ends = append(ends, len(buf))
		if p.versions {
			if buf, err = appendUnescapedXML(buf, o.versionRaw); err != nil {
				return err
			}
			ends = append(ends, len(buf))
		}
	}
	for _, r := range p.prefixRaw {
		if err := addKey(r); err != nil {
			return err
		}
	}
	if p.versions {
		if err := addKey(p.nextKeyRaw); err != nil {
			return err
		}
	}
	all := string(buf)
	start, k := 0, 0
	next := func() string {
		s := all[start:ends[k]]
		start = ends[k]
		k++
		return s
	}
	for i := range p.objects {
		o := &p.objects[i]
		o.key, o.etag = next(), next()
		if p.versions {
			o.versionID = next()
		}
		o.keyRaw, o.etagRaw, o.versionRaw = nil, nil, nil
	}
	if len(p.prefixRaw) > 0 {
		p.prefixes = make([]string, len(p.prefixRaw))
		for i := range p.prefixRaw {
			p.prefixes[i] = next()
		}
	}
	p.prefixRaw = nil
	if p.versions {
		p.nextKeyMarker, p.nextKeyRaw = next(), nil
	}
	return nil
}

// entityQuoted reports whether an ETag's text is the common form, its
// quotes written as entities around plain characters (&#34;...&#34; or
// &quot;...&quot;), by the length of that entity; 0: another form.
func entityQuoted(e []byte) int {
	for _, q := range [...]string{"&#34;", "&quot;"} {
		if len(e) >= 2*len(q) && string(e[:len(q)]) == q && string(e[len(e)-len(q):]) == q {
			if mid := e[len(q) : len(e)-len(q)]; bytes.IndexByte(mid, '&') < 0 && bytes.IndexByte(mid, '\r') < 0 {
				return len(q)
			}
			return 0
		}
	}
	return 0
}

// appendQueryUnescaped appends s decoded as url.QueryUnescape decodes it
// ("+" is a space, %XX a byte) and fails where it fails, with the same
// error.
func appendQueryUnescaped(dst, s []byte) ([]byte, error) {
	if bytes.IndexByte(s, '%') < 0 && bytes.IndexByte(s, '+') < 0 {
		return append(dst, s...), nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				rest := s[i:]
				if len(rest) > 3 {
					rest = rest[:3]
				}
				return dst, url.EscapeError(rest)
			}
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
