package s3api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
)

// Listings are the largest XML answers dgp writes (a page of 1,000 keys is
// about 300 KiB), and encoding/xml walks each key's struct by reflection:
// for listings that was half of dgp's CPU per page. writeListing renders
// them by hand, byte for byte as writeXML would (listxml_test.go checks it
// against encoding/xml): plain strings through xml.EscapeText, xmlText
// through escapeXMLText, the same elements in the same order and the same
// omitted empty ones. ListObjectVersions answers (listVersionsResult) are
// rendered the same way (listvxml_test.go).

// maxPooledListBuf is the largest render buffer Server.listBufs keeps.
const maxPooledListBuf = 4 << 20

// keptListBufs is how many render buffers Server.listBufs holds across
// garbage collections (see bufpool.Pool.Keep): a 1,000-key page's is
// 300-500 KiB, at most maxPooledListBuf.
const keptListBufs = 2

// listingXML is a ListBucketResult that renders itself.
type listingXML interface {
	appendXML(b *bytes.Buffer)
	// sizeHint is about the length of the rendering (at least it, for
	// texts that need no escaping).
	sizeHint() int
}

// writeListing writes a listing answer with status 200. The buffer is
// sized for the answer first: a pooled one often is not there (the pool
// is emptied by collections, which a listing's garbage brings on), and
// growing a fresh one to a page's 300-500 KiB by doubling allocated and
// zeroed (on memory just taken from the system: page faults) twice that,
// more CPU in a profile than the rendering itself.
func (s *Server) writeListing(rq *request, v listingXML) error {
	buf := s.listBufs.Get()
	defer s.listBufs.Put(buf)
	buf.Grow(len(xml.Header) + v.sizeHint())
	buf.WriteString(xml.Header)
	v.appendXML(buf)
	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write(buf.Bytes())
	return nil
}

const listRootOpen = `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`

// elem writes <name>s</name>, s escaped as encoding/xml escapes strings.
func elem(b *bytes.Buffer, name, s string) {
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteByte('>')
	writeEscapedText(b, s)
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
}

// writeEscapedText writes s as xml.EscapeText does. Printable ASCII (an
// ETag's quotes, most keys) is escaped here, without EscapeText's copy of
// s and its rune decoding; anything else goes through EscapeText.
func writeEscapedText(b *bytes.Buffer, s string) {
	if plainXML(s) {
		b.WriteString(s) // what EscapeText writes for it, without the copy
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			_ = xml.EscapeText(b, []byte(s))
			return
		}
	}
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// plainXML reports whether xml.EscapeText writes s unchanged: printable
// ASCII without the five characters it escapes.
func plainXML(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '<', c == '>', c == '&', c == '\'', c == '"':
			return false
		}
	}
	return true
}

// textElem writes <name>t</name> as xmlText.MarshalXML does.
func textElem(b *bytes.Buffer, name string, t xmlText) {
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteByte('>')
	b.WriteString(escapeXMLText(string(t)))
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
}

func intElem(b *bytes.Buffer, name string, n int64) {
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteByte('>')
	var tmp [20]byte
	b.Write(strconv.AppendInt(tmp[:0], n, 10))
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
}

func boolElem(b *bytes.Buffer, name string, v bool) {
	if v {
		elem(b, name, "true")
		return
	}
	elem(b, name, "false")
}

func appendContents(b *bytes.Buffer, objs []xmlObject, cps []xmlPrefix) {
	for i := range objs {
		o := &objs[i]
		b.WriteString("<Contents>")
		textElem(b, "Key", o.Key)
		elem(b, "LastModified", o.LastModified)
		elem(b, "ETag", o.ETag)
		intElem(b, "Size", o.Size)
		if o.Owner != nil {
			b.WriteString("<Owner>")
			elem(b, "ID", o.Owner.ID)
			elem(b, "DisplayName", o.Owner.DisplayName)
			b.WriteString("</Owner>")
		}
		elem(b, "StorageClass", o.StorageClass)
		b.WriteString("</Contents>")
	}
	for i := range cps {
		b.WriteString("<CommonPrefixes>")
		textElem(b, "Prefix", cps[i].Prefix)
		b.WriteString("</CommonPrefixes>")
	}
}

// Size hints: what an entry's tags, timestamp, size and the escaped
// quotes of its ETag (&#34;) take besides its texts (a Contents entry at
// most 167 bytes, a Version 214, an Owner 51, for years 0-9999), and the
// root's tags and numbers.
const (
	listEntryOverhead   = 176
	listVersionOverhead = 224
	listOwnerOverhead   = 64
	listRootOverhead    = 512
)

func contentsHint(objs []xmlObject, cps []xmlPrefix) int {
	n := 0
	for i := range objs {
		o := &objs[i]
		n += listEntryOverhead + len(o.Key) + len(o.ETag) + len(o.StorageClass)
		if o.Owner != nil {
			n += listOwnerOverhead + len(o.Owner.ID) + len(o.Owner.DisplayName)
		}
	}
	for i := range cps {
		n += len("<CommonPrefixes><Prefix></Prefix></CommonPrefixes>") + len(cps[i].Prefix)
	}
	return n
}

func (r *listBucketResultV1) sizeHint() int {
	return listRootOverhead + len(r.Name) + len(r.Prefix) + len(r.Marker) + len(r.NextMarker) + len(r.Delimiter) +
		contentsHint(r.Contents, r.CommonPrefixes)
}

func (r *listBucketResultV2) sizeHint() int {
	return listRootOverhead + len(r.Name) + len(r.Prefix) + len(r.NextContinuationToken) + len(r.Delimiter) +
		len(r.ContinuationToken) + len(r.StartAfter) + contentsHint(r.Contents, r.CommonPrefixes)
}

func (r *listVersionsResult) sizeHint() int {
	n := listRootOverhead + len(r.Name) + len(r.Prefix) + len(r.KeyMarker) + len(r.VersionIDMarker) +
		len(r.NextKeyMarker) + len(r.NextVersionIDMarker) + len(r.Delimiter) + contentsHint(nil, r.CommonPrefixes)
	for i := range r.Versions {
		v := &r.Versions[i]
		n += listVersionOverhead + listOwnerOverhead + len(v.Key) + len(v.VersionID) + len(v.ETag) + len(v.StorageClass) +
			len(v.Owner.ID) + len(v.Owner.DisplayName)
	}
	return n
}

func (r *listBucketResultV1) appendXML(b *bytes.Buffer) {
	b.WriteString(listRootOpen)
	elem(b, "Name", r.Name)
	textElem(b, "Prefix", r.Prefix)
	textElem(b, "Marker", r.Marker)
	if r.NextMarker != "" {
		textElem(b, "NextMarker", r.NextMarker)
	}
	intElem(b, "MaxKeys", int64(r.MaxKeys))
	if r.Delimiter != "" {
		textElem(b, "Delimiter", r.Delimiter)
	}
	boolElem(b, "IsTruncated", r.IsTruncated)
	appendContents(b, r.Contents, r.CommonPrefixes)
	if r.EncodingType != "" {
		elem(b, "EncodingType", r.EncodingType)
	}
	b.WriteString("</ListBucketResult>")
}

func (r *listBucketResultV2) appendXML(b *bytes.Buffer) {
	b.WriteString(listRootOpen)
	elem(b, "Name", r.Name)
	textElem(b, "Prefix", r.Prefix)
	if r.NextContinuationToken != "" {
		elem(b, "NextContinuationToken", r.NextContinuationToken)
	}
	intElem(b, "KeyCount", int64(r.KeyCount))
	intElem(b, "MaxKeys", int64(r.MaxKeys))
	if r.Delimiter != "" {
		textElem(b, "Delimiter", r.Delimiter)
	}
	boolElem(b, "IsTruncated", r.IsTruncated)
	appendContents(b, r.Contents, r.CommonPrefixes)
	if r.EncodingType != "" {
		elem(b, "EncodingType", r.EncodingType)
	}
	if r.ContinuationToken != "" {
		elem(b, "ContinuationToken", r.ContinuationToken)
	}
	if r.StartAfter != "" {
		textElem(b, "StartAfter", r.StartAfter)
	}
	b.WriteString("</ListBucketResult>")
}

const listVersionsRootOpen = `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`

func (r *listVersionsResult) appendXML(b *bytes.Buffer) {
	b.WriteString(listVersionsRootOpen)
	elem(b, "Name", r.Name)
	textElem(b, "Prefix", r.Prefix)
	textElem(b, "KeyMarker", r.KeyMarker)
	elem(b, "VersionIdMarker", r.VersionIDMarker)
	if r.NextKeyMarker != "" {
		textElem(b, "NextKeyMarker", r.NextKeyMarker)
	}
	if r.NextVersionIDMarker != "" {
		elem(b, "NextVersionIdMarker", r.NextVersionIDMarker)
	}
	intElem(b, "MaxKeys", int64(r.MaxKeys))
	if r.Delimiter != "" {
		textElem(b, "Delimiter", r.Delimiter)
	}
	boolElem(b, "IsTruncated", r.IsTruncated)
	for i := range r.Versions {
		r.Versions[i].appendXML(b)
	}
	appendContents(b, nil, r.CommonPrefixes)
	if r.EncodingType != "" {
		elem(b, "EncodingType", r.EncodingType)
	}
	b.WriteString("</ListVersionsResult>")
}

// appendXML writes a Version or DeleteMarker entry of a ListVersionsResult,
// named XMLName.Local, else "Version", in the root's namespace as S3
// writes it. (encoding/xml wrote xmlns="" on each entry, which took it out
// of the S3 namespace: a namespace-aware reader looking for S3's Version
// elements found none. The tests compare with encoding/xml's bytes less
// that attribute.)
func (v *xmlVersion) appendXML(b *bytes.Buffer) {
	name := v.XMLName.Local
	if name == "" {
		name = "Version"
	}
	b.WriteByte('<')
	b.WriteString(name)
	b.WriteByte('>')
	textElem(b, "Key", v.Key)
	elem(b, "VersionId", v.VersionID)
	boolElem(b, "IsLatest", v.IsLatest)
	elem(b, "LastModified", v.LastModified)
	if v.ETag != "" {
		elem(b, "ETag", v.ETag)
	}
	if v.Size != nil {
		intElem(b, "Size", *v.Size)
	}
	if v.StorageClass != "" {
		elem(b, "StorageClass", v.StorageClass)
	}
	b.WriteString("<Owner>")
	elem(b, "ID", v.Owner.ID)
	elem(b, "DisplayName", v.Owner.DisplayName)
	b.WriteString("</Owner></")
	b.WriteString(name)
	b.WriteByte('>')
}
