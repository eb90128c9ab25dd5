package s3backend

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// A ListObjectVersions answer interleaves <Version> and <DeleteMarker>
// elements in listing order (by key, then newest first). The fast path's
// scanner keeps that order; on the SDK's path (no fast path, or an answer
// the scanner does not read), the SDK deserialises them into two separate slices, losing how they interleave.
// Sorting them back together by key and LastModified is not exact:
// LastModified has millisecond precision in the XML, so two versions of a
// key can tie, and only the upstream knows their order. So the answer body
// is read once more (orderCapture, a deserialize middleware that sees the
// raw answer before the SDK's deserialiser) for the sequence of element
// names alone, and the two slices are merged by that sequence. When the
// body could not be scanned (too large, unreadable, or its counts disagree
// with the SDK's), the slices are merged by key, IsLatest and LastModified
// instead (mergeVersions).

// maxVersionsBody bounds how much of a listing is kept to scan its order.
// A page of 1000 entries with 1024-byte keys URL-encoded is a few MiB.
const maxVersionsBody = 32 << 20

// orderCapture records, for one ListObjectVersions call, which entries of
// the answer are delete markers, in document order (nil: not captured).
type orderCapture struct {
	markers []bool
}

// option is the per-call SDK option that installs the capture.
func (c *orderCapture) option(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		// Last in the deserialize step: the innermost, so it sees the
		// answer before the operation's deserialiser reads it.
		return st.Deserialize.Add(c, middleware.After)
	})
}

// ID implements middleware.DeserializeMiddleware.
func (c *orderCapture) ID() string { return "dgpVersionOrder" }

// HandleDeserialize implements middleware.DeserializeMiddleware: on a
// successful answer it reads the body, scans it, and hands the SDK a copy.
func (c *orderCapture) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.Response == nil || resp.Body == nil || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return out, md, err
	}
	c.markers = nil
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxVersionsBody+1))
	switch {
	case rerr != nil:
		// The SDK's deserialiser gets the same failure.
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), errReader{rerr}), resp.Body}
	case len(body) > maxVersionsBody:
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	default:
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		c.markers = scanVersionOrder(body)
	}
	return out, md, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// scanVersionOrder returns, for each <Version> or <DeleteMarker> child of
// the root element of a ListVersionsResult body in document order, whether
// it is a delete marker. Element names are matched as the SDK matches
// them (case-insensitively). It returns nil when the body is not
// well-formed XML.
func scanVersionOrder(body []byte) []bool {
	d := xml.NewDecoder(bytes.NewReader(body))
	markers := []bool{}
	depth := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if depth != 0 {
				return nil
			}
			return markers
		}
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				switch {
				case strings.EqualFold(t.Name.Local, "Version"):
					markers = append(markers, false)
				case strings.EqualFold(t.Name.Local, "DeleteMarker"):
					markers = append(markers, true)
				}
			}
		case xml.EndElement:
			depth--
			if depth < 0 {
				return nil
			}
		}
	}
}

// orderVersions merges versions and delete markers (each in the upstream's
// order) into one listing: by markers, the document order of the answer,
// when it agrees with the two slices, else by mergeVersions.
func orderVersions(versions, deleteMarkers []storage.ObjectInfo, markers []bool) []storage.ObjectInfo {
	if len(versions)+len(deleteMarkers) == 0 {
		return nil
	}
	nm := 0
	for _, m := range markers {
		if m {
			nm++
		}
	}
	if markers == nil || nm != len(deleteMarkers) || len(markers)-nm != len(versions) {
		return mergeVersions(versions, deleteMarkers)
	}
	out := make([]storage.ObjectInfo, 0, len(markers))
	vi, mi := 0, 0
	for _, m := range markers {
		if m {
			out = append(out, deleteMarkers[mi])
			mi++
		} else {
			out = append(out, versions[vi])
			vi++
		}
	}
	return out
}

// mergeVersions merges two listings each in S3's order (key ascending,
// then newest first) into one in that order: for one key, the latest
// entry first, then by LastModified descending; on a tie of
// LastModified the version comes before the delete marker.
func mergeVersions(versions, deleteMarkers []storage.ObjectInfo) []storage.ObjectInfo {
	out := make([]storage.ObjectInfo, 0, len(versions)+len(deleteMarkers))
	vi, mi := 0, 0
	for vi < len(versions) && mi < len(deleteMarkers) {
		if listedBefore(deleteMarkers[mi], versions[vi]) {
			out = append(out, deleteMarkers[mi])
			mi++
		} else {
			out = append(out, versions[vi])
			vi++
		}
	}
	out = append(out, versions[vi:]...)
	return append(out, deleteMarkers[mi:]...)
}

// listedBefore reports whether a comes strictly before b in S3's version
// order.
func listedBefore(a, b storage.ObjectInfo) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	if a.IsLatest != b.IsLatest {
		return a.IsLatest
	}
	return a.LastModified.After(b.LastModified)
}
