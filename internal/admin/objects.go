package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Objects is what the object browser needs from storage: the buckets and
// objects under their client-facing names, as the S3 API serves them.
// Errors are the backends' *s3err.Error values (NoSuchBucket, NoSuchKey,
// PreconditionFailed, ...); anything else means the backend did not
// answer.
type Objects interface {
	// ListBuckets lists every bucket.
	ListBuckets(ctx context.Context) ([]storage.BucketInfo, error)
	// ListObjects lists one page of bucket.
	ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error)
	// GetObject opens an object, or the byte range of opts.Range (the
	// Object's ContentRange is set then); the caller closes its Body.
	GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error)
	// PutObject stores exactly size bytes of body as key, streaming them;
	// nothing is stored when body fails before its end.
	PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error)
	// DeleteObject deletes key (a missing key is not an error, as in S3).
	DeleteObject(ctx context.Context, bucket, key string) error
}

// Limits of the object browser's endpoints.
const (
	// MaxUploadBytes is the largest upload: S3's largest single PUT
	// (5 GiB). Larger objects need a multipart upload through the S3 API.
	MaxUploadBytes int64 = 5 << 30
	// DefaultListMax and MaxListMax bound a listing page (max=).
	DefaultListMax = 200
	MaxListMax     = 1000
	// maxObjectKey is the longest key or prefix, in bytes (as S3).
	maxObjectKey = 1024
)

// MountObjects serves the object browser on o (call it before serving):
//
//	GET    /objects                      buckets the identity may see
//	GET    /objects/{bucket}             one listing page (prefix, delimiter, start_after, max)
//	GET    /objects/{bucket}/{key...}    download (also GET /objects/{bucket}?key=)
//	PUT    /objects/{bucket}/{key...}    upload the raw body (also PUT /objects/{bucket}?key=)
//	DELETE /objects/{bucket}/{key...}    delete (also DELETE /objects/{bucket}?key=)
//
// Every request acts with the signed-in identity's own rights (rightsOf),
// never the instance's. Without MountObjects those paths answer 404.
func (a *API) MountObjects(o Objects) {
	b := &browser{api: a, o: o}
	a.handle("GET /objects", a.authed(read, b.wrap(b.listBuckets)))
	a.handle("GET /objects/{bucket}", a.authed(read, b.wrap(b.listOrGet)))
	a.handle("GET /objects/{bucket}/{key...}", a.authed(read, b.wrap(b.get)))
	a.handle("PUT /objects/{bucket}", a.authed(read, b.wrap(b.put)))
	a.handle("PUT /objects/{bucket}/{key...}", a.authed(read, b.wrap(b.put)))
	a.handle("DELETE /objects/{bucket}", a.authed(read, b.wrap(b.del)))
	a.handle("DELETE /objects/{bucket}/{key...}", a.authed(read, b.wrap(b.del)))
}

// browser serves the object endpoints.
type browser struct {
	api *API
	o   Objects
}

// objectCall is one request with the identity's rights.
type objectCall struct {
	w      http.ResponseWriter
	r      *http.Request
	p      *principal
	rights objectRights
	rules  []iam.Rule
}

// wrap resolves the principal's rights from the current IAM snapshot and
// renders an access refusal.
func (b *browser) wrap(h func(c *objectCall) error) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		rights, rules := rightsOf(b.api.iam.Current(), p)
		err := h(&objectCall{w: w, r: r, p: p, rights: rights, rules: rules})
		var d *deniedError
		if errors.As(err, &d) {
			writeJSON(w, http.StatusForbidden, deniedAnswer{Code: "access_denied", Message: d.Error(),
				Action: string(d.action), Resource: d.resource})
			return nil
		}
		return err
	}
}

// deniedError is a refusal by the identity's rules.
type deniedError struct {
	who      string
	action   iam.Action
	resource string
}

func (e *deniedError) Error() string {
	return fmt.Sprintf("%s may not %s %s: no Allow rule of its own or of its groups grants it, or a Deny rule refuses it",
		e.who, e.action, e.resource)
}

// deniedAnswer is the 403 body: the error fields, the action and resource.
type deniedAnswer struct {
	Code     string `json:"error"`
	Message  string `json:"message"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

// allow returns a deniedError unless the call may do action on
// bucket/key (key: the listing prefix for ActionList); resource names it.
func (c *objectCall) allow(action iam.Action, bucket, key, resource string) error {
	if c.rights.Allowed(action, bucket, key) {
		return nil
	}
	return &deniedError{who: c.p.who(), action: action, resource: resource}
}

// bucketEntry is a bucket of the list.
type bucketEntry struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// ListRoot says the identity may list the bucket from its root;
	// otherwise StartPrefixes are where its rules let it list.
	ListRoot      bool     `json:"list_root"`
	StartPrefixes []string `json:"start_prefixes,omitempty"`
}

func (b *browser) listBuckets(c *objectCall) error {
	if err := c.allow(iam.ActionList, "", "", "the bucket list"); err != nil {
		return err
	}
	all, err := b.o.ListBuckets(c.r.Context())
	if err != nil {
		return objectError(err, "", "")
	}
	out := make([]bucketEntry, 0, len(all))
	for _, bk := range all {
		if !c.rights.BucketVisible(bk.Name) {
			continue
		}
		e := bucketEntry{Name: bk.Name, Created: bk.Created.UTC(), ListRoot: c.rights.Allowed(iam.ActionList, bk.Name, "")}
		if !e.ListRoot {
			e.StartPrefixes = listStarts(c.rights, c.rules, bk.Name)
		}
		out = append(out, e)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"buckets": out})
	return nil
}

// listOrGet is GET /objects/{bucket}: a download when ?key= is given,
// else a listing.
func (b *browser) listOrGet(c *objectCall) error {
	if c.r.URL.Query().Has("key") {
		return b.get(c)
	}
	return b.list(c)
}

// objectEntry is an object of a listing.
type objectEntry struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
}

// listAnswer is a listing page.
type listAnswer struct {
	Bucket         string        `json:"bucket"`
	Prefix         string        `json:"prefix"`
	Delimiter      string        `json:"delimiter"`
	CommonPrefixes []string      `json:"common_prefixes"`
	Objects        []objectEntry `json:"objects"`
	IsTruncated    bool          `json:"is_truncated"`
	// NextStartAfter is the start_after of the next page (when truncated).
	NextStartAfter string `json:"next_start_after,omitempty"`
}

func (b *browser) list(c *objectCall) error {
	bucket := c.r.PathValue("bucket")
	q := c.r.URL.Query()
	prefix, delim, after := q.Get("prefix"), q.Get("delimiter"), q.Get("start_after")
	if err := checkBucketName(bucket); err != nil {
		return err
	}
	for _, f := range [][2]string{{"prefix", prefix}, {"delimiter", delim}, {"start_after", after}} {
		if err := checkKeyText(f[0], f[1]); err != nil {
			return err
		}
	}
	limit := DefaultListMax
	if s := q.Get("max"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListMax {
			return invalid("max", "must be a whole number from 1 to %d (got %q)", MaxListMax, s)
		}
		limit = n
	}
	res := "bucket " + bucket
	if prefix != "" {
		res += " under prefix " + strconv.Quote(prefix)
	}
	if err := c.allow(iam.ActionList, bucket, prefix, res); err != nil {
		return err
	}
	page, err := b.o.ListObjects(c.r.Context(), bucket,
		storage.ListOptions{Prefix: prefix, Delimiter: delim, Marker: after, MaxKeys: limit})
	if err != nil {
		return objectError(err, bucket, "")
	}
	ans := listAnswer{Bucket: bucket, Prefix: prefix, Delimiter: delim, CommonPrefixes: page.CommonPrefixes,
		Objects: make([]objectEntry, 0, len(page.Objects)), IsTruncated: page.IsTruncated}
	if ans.CommonPrefixes == nil {
		ans.CommonPrefixes = []string{}
	}
	for _, o := range page.Objects {
		ans.Objects = append(ans.Objects, objectEntry{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified.UTC()})
	}
	if page.IsTruncated {
		ans.NextStartAfter = page.NextMarker
	}
	writeJSON(c.w, http.StatusOK, ans)
	return nil
}

// target returns the bucket and key of an object request: the path's, or
// ?key= on /objects/{bucket} (for keys the path cannot carry, like
// "a//b", which the router would clean).
func target(r *http.Request) (bucket, key string, err error) {
	bucket = r.PathValue("bucket")
	if err := checkBucketName(bucket); err != nil {
		return "", "", err
	}
	key = r.PathValue("key")
	if q := r.URL.Query(); q.Has("key") {
		if key != "" {
			return "", "", badRequest("key", "name the key either in the path or in ?key=, not both")
		}
		key = q.Get("key")
	}
	if err := checkObjectKey(key); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}
