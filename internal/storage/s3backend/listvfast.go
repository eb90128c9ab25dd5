package s3backend

import (
	"context"
	"net/url"
	"strconv"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// A version listing on the fast path: the SDK's deserialiser cost dgp
// about 150 allocations an entry (a token, a pointer per field, the
// types.ObjectVersion and DeleteMarkerEntry), and, because it splits the
// entries into two slices, the answer was read a second time for their
// order (orderCapture). The listing scanner reads the page once, entries
// in document order, which is the listing's order.

// fastListVersions lists one page of versions on the fast path. ok is
// false when the page must be asked through the SDK instead (the
// answer's shape).
func (b *Backend) fastListVersions(ctx context.Context, t *target, opts storage.ListVersionsOptions, ask int32) (page *listPage, ok bool, err error) {
	q := url.Values{"versions": {""}, "encoding-type": {"url"}, "max-keys": {strconv.Itoa(int(ask))}}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Delimiter != "" {
		q.Set("delimiter", opts.Delimiter)
	}
	if opts.KeyMarker != "" {
		q.Set("key-marker", opts.KeyMarker)
	}
	if opts.VersionIDMarker != "" {
		q.Set("version-id-marker", opts.VersionIDMarker)
	}
	return b.fastList(ctx, t, q, true)
}

// toVersionsResult turns a scanned version listing into the storage view,
// as the SDK path does (keys and the next key marker URL-decoded when the
// answer says they are encoded, ETags quoted, timestamps parsed; a delete
// marker without ETag, size or storage class).
func (p *listPage) toVersionsResult() (*storage.ListVersionsResult, error) {
	if err := p.unreadable(); err != nil {
		return nil, err
	}
	res := &storage.ListVersionsResult{
		IsTruncated:         p.truncated,
		NextKeyMarker:       p.nextKeyMarker,
		NextVersionIDMarker: p.nextVersionID,
		CommonPrefixes:      p.prefixes,
	}
	if len(p.objects) > 0 {
		res.Versions = make([]storage.ObjectInfo, len(p.objects))
	}
	for i := range p.objects {
		o := &p.objects[i]
		v := &res.Versions[i]
		v.Key, v.LastModified, v.VersionID, v.IsLatest = o.key, o.modified, o.versionID, o.isLatest
		if o.deleteMarker {
			v.DeleteMarker = true
			continue
		}
		v.Size, v.ETag, v.StorageClass = o.size, quoteETag(o.etag), o.storageClass
	}
	return res, nil
}
