package s3backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// The fast listing sends ListObjectsV2 on the fast path (see fastpath.go)
// and reads the answer with a scanner made for ListBucketResult, instead of
// the SDK's generic XML deserialiser, which builds a token, a pointer per
// field and a types.Object per key before ListObjects copies them again:
// for a page of 1,000 keys that was most of what dgp added to the page's
// time. The scanner reads only the fields a listing uses and refuses what
// it does not know for certain (namespace prefixes, CDATA, DTDs, a
// different root); such an answer is listed again through the SDK.

// errListShape marks an answer the scanner does not read; the listing is
// then asked again through the SDK.
var errListShape = errors.New("s3backend: listing answer not in the expected shape")

// maxListBody bounds a listing answer (1,000 keys of 1 KiB each, escaped
// three times over, plus the fields, stay well below).
const maxListBody = 16 << 20

// maxPooledListBody is the largest answer buffer Backend.listBufs keeps.
const maxPooledListBody = 4 << 20

// keptListBufs is how many answer buffers Backend.listBufs holds across
// garbage collections (see bufpool.Pool.Keep): a 1,000-key page from
// MinIO is 300-500 KiB, at most maxPooledListBody.
const keptListBufs = 2

// listPage is what a ListObjectsV2 or ListObjectVersions answer says.
type listPage struct {
	objects     []listedObject
	prefixes    []string
	truncated   bool
	urlEncoding bool
	nextToken   string
	badTime     error // the first LastModified that did not parse (toResult fails with it)
	// A version listing's (versions): the markers of the next page, and
	// the entries are Version and DeleteMarker elements.
	versions      bool
	nextKeyMarker string // decoded by finish
	nextKeyRaw    []byte // a slice of the document until finish
	nextVersionID string
	// Set by finish: why a key or prefix could not be URL-decoded.
	badKey    error
	prefixRaw [][]byte // CommonPrefixes, slices of the document until finish
}

type listedObject struct {
	key, etag, storageClass, versionID string
	keyRaw, etagRaw, versionRaw        []byte    // slices of the document until finish
	modified                           time.Time // zero: the answer gave none
	size                               int64
	isLatest, deleteMarker             bool // a version listing's
}

// fastListObjects lists one page on the fast path. ok is false when the
// page must be asked through the SDK instead (the answer's shape).
func (b *Backend) fastListObjects(ctx context.Context, t *target, opts storage.ListOptions, ask int32) (page *listPage, ok bool, err error) {
	q := url.Values{"list-type": {"2"}, "encoding-type": {"url"}, "max-keys": {strconv.Itoa(int(ask))}}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Delimiter != "" {
		q.Set("delimiter", opts.Delimiter)
	}
	if opts.Token != "" {
		q.Set("continuation-token", opts.Token)
	} else if opts.Marker != "" {
		q.Set("start-after", opts.Marker)
	}
	return b.fastList(ctx, t, q, false)
}

// fastList sends a listing request with query q to the bucket of t and
// scans the answer (a ListVersionsResult when versions, else a
// ListBucketResult). ok is false when the page must be asked through the
// SDK instead (the answer's shape).
func (b *Backend) fastList(ctx context.Context, t *target, q url.Values, versions bool) (page *listPage, ok bool, err error) {
	req, err := newBucketRequest(ctx, http.MethodGet, t, strings.ReplaceAll(q.Encode(), "+", "%20"), nil)
	if err != nil {
		return nil, false, err
	}
	// As the SDK asks (its DisableGzip step), and as the object requests
	// do: without it net/http asks for gzip, and MinIO then compresses
	// every page for dgp to decompress (CPU on both sides for nothing on a
	// near network; a client talking to MinIO directly with an AWS SDK
	// gets the page uncompressed too).
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := b.fast.send(req, t, emptyPayloadHash)
	if err != nil {
		return nil, false, translate(err, kindBucket)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, false, responseError(resp, kindBucket)
	}
	defer resp.Body.Close()
	buf := b.listBufs.Get()
	defer b.listBufs.Put(buf)
	if n := resp.ContentLength; n > 0 && n <= maxListBody {
		// Room for the whole answer at once, and the bytes.MinRead
		// ReadFrom wants free to see the end without growing.
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxListBody+1)); err != nil {
		return nil, false, translate(err, kindBucket)
	}
	if buf.Len() > maxListBody {
		return nil, false, nil
	}
	p, err := scanList(buf.Bytes(), versions)
	if err != nil {
		return nil, false, nil
	}
	return p, true, nil
}

// newBucketRequest is a request to the bucket of t itself (a listing,
// DeleteObjects), its URL as the SDK sends it: "/bucket" (path style) or
// "/", with rawQuery.
func newBucketRequest(ctx context.Context, method string, t *target, rawQuery string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base, body)
	if err != nil {
		return nil, err
	}
	req.URL.Path = strings.TrimSuffix(t.prefix, "/")
	req.URL.RawPath = strings.TrimSuffix(t.rawPrefix, "/")
	if req.URL.Path == "" {
		req.URL.Path, req.URL.RawPath = "/", "/"
	}
	req.URL.RawQuery = rawQuery
	return req, nil
}

// scanListV2 reads a ListBucketResult document.
func scanListV2(doc []byte) (*listPage, error) { return scanList(doc, false) }

// scanListVersions reads a ListVersionsResult document.
func scanListVersions(doc []byte) (*listPage, error) { return scanList(doc, true) }

// scanList reads a ListVersionsResult document (versions) or a
// ListBucketResult one. A page's entries are the root's Contents
// children, or its Version and DeleteMarker children in document order
// (the listing's order, which the two kinds interleave).
func scanList(doc []byte, versions bool) (*listPage, error) {
	root := "ListBucketResult"
	if versions {
		root = "ListVersionsResult"
	}
	s := xmlScanner{doc: doc}
	p := &listPage{versions: versions}
	var stack [][]byte // names of the open elements, slices of doc
	var obj *listedObject
	var tok xmlToken
	for {
		if err := s.next(&tok); err != nil {
			return nil, err
		}
		switch tok.kind {
		case tokEOF:
			if len(stack) != 0 || !s.sawRoot {
				return nil, errListShape
			}
			if err := p.finish(); err != nil {
				return nil, err
			}
			return p, nil
		case tokStart:
			if len(stack) == 0 {
				if string(tok.name) != root || s.sawRoot {
					return nil, errListShape
				}
				s.sawRoot = true
			}
			if len(stack) == 1 {
				if entry, marker := p.entry(tok.name); entry {
					p.objects = append(p.objects, listedObject{deleteMarker: marker})
					obj = &p.objects[len(p.objects)-1]
					if tok.selfClosing {
						obj = nil // an empty entry: nothing inside it follows
					}
				}
			}
			if tok.selfClosing {
				continue
			}
			stack = append(stack, tok.name)
		case tokEnd:
			if len(stack) == 0 || !bytes.Equal(stack[len(stack)-1], tok.name) {
				return nil, errListShape
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 1 {
				obj = nil // the end of the root's child: an entry or not
			}
		case tokText:
			if len(stack) < 2 {
				continue // whitespace between elements
			}
			if err := p.take(&tok, stack, obj); err != nil {
				return nil, err
			}
		}
	}
}

// entry reports whether a child of the root named name is one of the
// page's entries, and whether it is a delete marker.
func (p *listPage) entry(name []byte) (entry, marker bool) {
	if !p.versions {
		return string(name) == "Contents", false
	}
	switch string(name) {
	case "Version":
		return true, false
	case "DeleteMarker":
		return true, true
	}
	return false, false
}

// take keeps the text tok if the element it is in is one dgp reads;
// strings are made only for those.
func (p *listPage) take(tok *xmlToken, stack [][]byte, obj *listedObject) error {
	// Compared as string(...) == "...": no copy is made.
	parent, name := stack[len(stack)-2], stack[len(stack)-1]
	var dst *string
	switch {
	case len(stack) == 2 && string(name) == "KeyCount":
		// Room for the objects at once (S3 and MinIO write it before
		// them), never more than a page dgp asks for.
		if n, err := strconv.Atoi(string(tok.raw)); err == nil && n > 0 && p.objects == nil {
			p.objects = make([]listedObject, 0, min(n, maxListKeys))
		}
		return nil
	case len(stack) == 2 && string(name) == "IsTruncated":
		return parseListBool(tok.raw, &p.truncated)
	case len(stack) == 2 && string(name) == "EncodingType":
		p.urlEncoding = string(tok.raw) == "url"
		return nil
	case len(stack) == 2 && !p.versions && string(name) == "NextContinuationToken":
		dst = &p.nextToken
	case len(stack) == 2 && p.versions && string(name) == "NextKeyMarker":
		p.nextKeyRaw = tok.raw // a key: decoded with them (finish)
		return nil
	case len(stack) == 2 && p.versions && string(name) == "NextVersionIdMarker":
		dst = &p.nextVersionID
	case len(stack) == 3 && obj != nil: // a child of an entry
		switch string(name) {
		case "Key":
			obj.keyRaw = tok.raw
			return nil
		case "ETag":
			obj.etagRaw = tok.raw
			return nil
		case "LastModified":
			return p.takeTime(tok, obj)
		case "StorageClass":
			if string(tok.raw) == "STANDARD" { // most of them: no copy
				obj.storageClass = "STANDARD"
				return nil
			}
			dst = &obj.storageClass
		case "Size":
			n, err := strconv.ParseInt(string(tok.raw), 10, 64)
			if err != nil {
				return errListShape
			}
			obj.size = n
			return nil
		case "VersionId":
			if p.versions {
				obj.versionRaw = tok.raw
				return nil
			}
		case "IsLatest":
			if p.versions {
				return parseListBool(tok.raw, &obj.isLatest)
			}
		}
	case len(stack) == 3 && string(parent) == "CommonPrefixes" && string(name) == "Prefix":
		p.prefixRaw = append(p.prefixRaw, tok.raw)
		return nil
	}
	if dst == nil {
		return tok.check()
	}
	text, err := tok.text()
	if err != nil {
		return err
	}
	*dst = text
	return nil
}

// parseListBool reads a boolean as the SDK does (strconv.ParseBool); what
// it does not read is errListShape, and the SDK then fails on it.
func parseListBool(raw []byte, dst *bool) error {
	switch string(raw) {
	case "true":
		*dst = true
		return nil
	case "false":
		*dst = false
		return nil
	}
	v, err := strconv.ParseBool(string(raw))
	if err != nil {
		return errListShape
	}
	*dst = v
	return nil
}

// unreadable is the error of a page whose keys or times could not be
// read (the SDK path fails on them too), or nil.
func (p *listPage) unreadable() error {
	switch {
	case p.badKey != nil:
		return errUnreadableListing(p.badKey)
	case p.badTime != nil:
		return errUnreadableListing(p.badTime)
	}
	return nil
}

// toResult turns a scanned page into the storage view, as the SDK path
// does (keys URL-decoded when the answer says they are encoded, ETags
// quoted, timestamps parsed).
func (p *listPage) toResult() (*storage.ListResult, error) {
	res := &storage.ListResult{IsTruncated: p.truncated}
	if p.truncated {
		res.NextToken = p.nextToken
	}
	if err := p.unreadable(); err != nil {
		return nil, err
	}
	// The keys and prefixes are decoded already (finish).
	if len(p.objects) > 0 {
		res.Objects = make([]storage.ObjectInfo, 0, len(p.objects))
	}
	for _, o := range p.objects {
		res.Objects = append(res.Objects, storage.ObjectInfo{
			Key:          o.key,
			Size:         o.size,
			ETag:         quoteETag(o.etag),
			LastModified: o.modified,
			StorageClass: o.storageClass,
		})
	}
	res.CommonPrefixes = p.prefixes
	return res, nil
}

// takeTime reads an object's LastModified: the common form by hand,
// anything else (and what the hand parser doubts) as the SDK reads it. A
// time the SDK cannot read either fails the page in toResult, as it did
// when the text was parsed there.
func (p *listPage) takeTime(tok *xmlToken, obj *listedObject) error {
	if t, ok := parseListTime(tok.raw); ok {
		obj.modified = t
		return nil
	}
	text, err := tok.text()
	if err != nil {
		return err
	}
	if text == "" {
		return nil
	}
	t, err := smithytime.ParseDateTime(text)
	if err != nil {
		if p.badTime == nil {
			p.badTime = err
		}
		return nil
	}
	obj.modified = t
	return nil
}

// parseListTime parses the form S3 servers write timestamps in,
// "2006-01-02T15:04:05Z" with an optional fraction of up to 9 digits, in
// UTC. ok is false for any other text, including dates that do not exist
// (the caller then asks the SDK's parser, which decides).
func parseListTime(b []byte) (t time.Time, ok bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	} else if len(b) != 20 {
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // February 30th and the like: time.Date moved it
		return time.Time{}, false
	}
	return t, true
}
