package fsbackend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// The model: S3's versioning rules over a few keys, in memory.

type modelVersion struct {
	id     string // "null" for null versions
	marker bool
	data   string
}

type versionModel struct {
	state storage.VersioningStatus
	keys  map[string][]modelVersion // newest first
	seen  map[string]bool           // every non-null id handed out
}

func (m *versionModel) dropNull(key string) {
	m.keys[key] = slices.DeleteFunc(m.keys[key], func(v modelVersion) bool { return v.id == storage.NullVersion })
}

func (m *versionModel) push(key string, v modelVersion) {
	m.keys[key] = append([]modelVersion{v}, m.keys[key]...)
}

// listing is what a full ListObjectVersions shows from (prefix, delim,
// key marker alone).
func (m *versionModel) listing(prefix, delim, km string) (rows []versionRow, prefixes []string) {
	keys := make([]string, 0, len(m.keys))
	for k, vs := range m.keys {
		if len(vs) > 0 && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if cp > km && (len(prefixes) == 0 || prefixes[len(prefixes)-1] != cp) {
					prefixes = append(prefixes, cp)
				}
				continue
			}
		}
		if k <= km {
			continue
		}
		for i, v := range m.keys[k] {
			rows = append(rows, versionRow{Key: k, ID: v.id, Latest: i == 0, Marker: v.marker, ETagSeen: !v.marker})
		}
	}
	return rows, prefixes
}

// modelRun drives a backend and the model with the same random operations
// and fails at the first difference.
type modelRun struct {
	t   *testing.T
	b   *Backend
	rng *rand.Rand
	m   *versionModel
	op  int
}

func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("op %d (state %q): %s", r.op, r.m.state, fmt.Sprintf(format, args...))
}

var modelKeys = []string{"a", "b/c", "b/d", "e/f/g", "h"}

func TestVersioningModel(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			b, clk := mustNew(t)
			b.noSync = true // durability is not the subject here
			mustBucket(t, b, "bkt")
			r := &modelRun{t: t, b: b, rng: rand.New(rand.NewPCG(seed, 42)),
				m: &versionModel{keys: map[string][]modelVersion{}, seen: map[string]bool{}}}
			for r.op = 0; r.op < 2000; r.op++ {
				if r.rng.IntN(4) == 0 {
					clk.Advance(1) // sometimes the clock stands still
				}
				key := modelKeys[r.rng.IntN(len(modelKeys))]
				switch n := r.rng.IntN(100); {
				case n < 24:
					r.put(key)
				case n < 36:
					r.delete(key)
				case n < 58:
					r.deleteVersion(key)
				case n < 61:
					r.setState(storage.VersioningSuspended)
				case n < 65:
					r.setState(storage.VersioningEnabled)
				case n < 80:
					r.get(key)
				case n < 85:
					r.copy(key, modelKeys[r.rng.IntN(len(modelKeys))])
				default:
					r.list()
				}
				r.checkFiles(key)
			}
			r.list()
			assertStagingEmpty(t, b)
		})
	}
}

func (r *modelRun) put(key string) {
	data := fmt.Sprintf("data-%d", r.op)
	res, err := r.b.PutObject(context.Background(), "bkt", key, strings.NewReader(data), int64(len(data)), storage.PutOptions{})
	if err != nil {
		r.fatalf("put %q: %v", key, err)
	}
	switch r.m.state {
	case storage.VersioningOff:
		if res.VersionID != "" {
			r.fatalf("unversioned put id %q", res.VersionID)
		}
		r.m.keys[key] = []modelVersion{{id: storage.NullVersion, data: data}}
	case storage.VersioningEnabled:
		r.newID(res.VersionID)
		r.m.push(key, modelVersion{id: res.VersionID, data: data})
	default:
		if res.VersionID != storage.NullVersion {
			r.fatalf("suspended put id %q", res.VersionID)
		}
		r.m.dropNull(key)
		r.m.push(key, modelVersion{id: storage.NullVersion, data: data})
	}
}

// copy copies a random version of src (or its latest) to dst.
func (r *modelRun) copy(src, dst string) {
	vs := r.m.keys[src]
	ref := storage.ObjectRef{Bucket: "bkt", Key: src}
	var v *modelVersion
	switch {
	case len(vs) > 0 && r.rng.IntN(2) == 0:
		v = &vs[r.rng.IntN(len(vs))]
		ref.VersionID = v.id
	case len(vs) > 0 && !vs[0].marker:
		v = &vs[0]
	}
	res, err := r.b.CopyObject(context.Background(), ref, storage.ObjectRef{Bucket: "bkt", Key: dst}, storage.CopyOptions{ReplaceMetadata: true})
	switch {
	case v == nil && len(vs) > 0 && vs[0].marker:
		if !errors.Is(err, s3err.ErrNoSuchKey) {
			r.fatalf("copy from %q (latest a marker) = %v", src, err)
		}
		return
	case v == nil:
		if !errors.Is(err, s3err.ErrNoSuchKey) {
			r.fatalf("copy from missing %q = %v", src, err)
		}
		return
	case v.marker:
		if !errors.Is(err, s3err.ErrInvalidRequest) {
			r.fatalf("copy from marker %s of %q = %v", v.id, src, err)
		}
		return
	case err != nil:
		r.fatalf("copy %q %q -> %q: %v", src, ref.VersionID, dst, err)
	}
	if res.SourceVersionID != r.reported(*v) {
		r.fatalf("copy source version %q, want %q", res.SourceVersionID, r.reported(*v))
	}
	data := v.data
	switch r.m.state {
	case storage.VersioningOff:
		if res.VersionID != "" {
			r.fatalf("unversioned copy id %q", res.VersionID)
		}
		r.m.keys[dst] = []modelVersion{{id: storage.NullVersion, data: data}}
	case storage.VersioningEnabled:
		r.newID(res.VersionID)
		r.m.push(dst, modelVersion{id: res.VersionID, data: data})
	default:
		if res.VersionID != storage.NullVersion {
			r.fatalf("suspended copy id %q", res.VersionID)
		}
		r.m.dropNull(dst)
		r.m.push(dst, modelVersion{id: storage.NullVersion, data: data})
	}
}

func (r *modelRun) newID(id string) {
	r.t.Helper()
	if !validVersionID(id) || id == storage.NullVersion || r.m.seen[id] {
		r.fatalf("version id %q is not new", id)
	}
	r.m.seen[id] = true
}

func (r *modelRun) delete(key string) {
	res, err := r.b.DeleteObject(context.Background(), "bkt", key, storage.DeleteOptions{})
	if err != nil {
		r.fatalf("delete %q: %v", key, err)
	}
	switch r.m.state {
	case storage.VersioningOff:
		if *res != (storage.DeleteResult{}) {
			r.fatalf("unversioned delete = %+v", res)
		}
		delete(r.m.keys, key)
	case storage.VersioningEnabled:
		if !res.DeleteMarker {
			r.fatalf("delete = %+v, want a marker", res)
		}
		r.newID(res.VersionID)
		r.m.push(key, modelVersion{id: res.VersionID, marker: true})
	default:
		if !res.DeleteMarker || res.VersionID != storage.NullVersion {
			r.fatalf("suspended delete = %+v", res)
		}
		r.m.dropNull(key)
		r.m.push(key, modelVersion{id: storage.NullVersion, marker: true})
	}
}

func (r *modelRun) deleteVersion(key string) {
	vs := r.m.keys[key]
	id := newVersionID(uint64(r.rng.Int64()))
	i := -1
	switch {
	case len(vs) > 0 && r.rng.IntN(5) != 0:
		i = r.rng.IntN(len(vs))
		id = vs[i].id
	case r.rng.IntN(2) == 0:
		id = storage.NullVersion
		i = slices.IndexFunc(vs, func(v modelVersion) bool { return v.id == id })
	}
	res, err := r.b.DeleteObject(context.Background(), "bkt", key, storage.DeleteOptions{VersionID: id})
	if err != nil {
		r.fatalf("delete %q version %q: %v", key, id, err)
	}
	if res.VersionID != id || (i >= 0 && res.DeleteMarker != vs[i].marker) {
		r.fatalf("delete %q version %q = %+v", key, id, res)
	}
	if i >= 0 {
		r.m.keys[key] = slices.Delete(vs, i, i+1)
	}
}

func (r *modelRun) setState(s storage.VersioningStatus) {
	if err := r.b.PutBucketVersioning(context.Background(), "bkt", s); err != nil {
		r.fatalf("set %q: %v", s, err)
	}
	r.m.state = s
}

// reported is the version id GET reports for a model version.
func (r *modelRun) reported(v modelVersion) string {
	if v.id == storage.NullVersion && r.m.state == storage.VersioningOff {
		return ""
	}
	return v.id
}

func (r *modelRun) get(key string) {
	vs := r.m.keys[key]
	data, info, err := getVersion(r.t, r.b, "bkt", key, "")
	switch {
	case len(vs) == 0:
		if !errors.Is(err, s3err.ErrNoSuchKey) || errHeader(err, "x-amz-delete-marker") != "" {
			r.fatalf("GET %q = %v, want a plain NoSuchKey", key, err)
		}
	case vs[0].marker:
		if !errors.Is(err, s3err.ErrNoSuchKey) || errHeader(err, "x-amz-delete-marker") != "true" || errHeader(err, "x-amz-version-id") != vs[0].id {
			r.fatalf("GET %q = %v, want NoSuchKey of marker %s", key, err, vs[0].id)
		}
	default:
		if err != nil || data != vs[0].data || info.VersionID != r.reported(vs[0]) {
			r.fatalf("GET %q = %q, %+v, %v; want %+v", key, data, info, err, vs[0])
		}
	}
	if len(vs) == 0 {
		return
	}
	v := vs[r.rng.IntN(len(vs))]
	data, info, err = getVersion(r.t, r.b, "bkt", key, v.id)
	if v.marker {
		if !errors.Is(err, s3err.ErrMethodNotAllowed) || errHeader(err, "x-amz-version-id") != v.id {
			r.fatalf("GET %q marker %s = %v, want MethodNotAllowed", key, v.id, err)
		}
		return
	}
	if err != nil || data != v.data || info.VersionID != r.reported(v) {
		r.fatalf("GET %q version %s = %q, %+v, %v; want %+v", key, v.id, data, info, err, v)
	}
}

func (r *modelRun) list() {
	prefix := []string{"", "", "b/", "e/", "b/c", "x"}[r.rng.IntN(6)]
	delim := []string{"", "/"}[r.rng.IntN(2)]
	km := ""
	if r.rng.IntN(3) == 0 {
		km = []string{"a", "b/", "b/c", "c", "e/f/g", "zz"}[r.rng.IntN(6)]
	}
	pageSize := 1 + r.rng.IntN(4)
	wantRows, wantPrefixes := r.m.listing(prefix, delim, km)
	var rows []versionRow
	var prefixes []string
	opts := storage.ListVersionsOptions{Prefix: prefix, Delimiter: delim, KeyMarker: km, MaxKeys: pageSize}
	for page := 0; ; page++ {
		if page > 1000 {
			r.fatalf("listing does not end")
		}
		res, err := r.b.ListObjectVersions(context.Background(), "bkt", opts)
		if err != nil {
			r.fatalf("list %+v: %v", opts, err)
		}
		n := len(res.Versions) + len(res.CommonPrefixes)
		if n > pageSize || (res.IsTruncated && n != pageSize) {
			r.fatalf("page of %d (truncated %v) for max-keys %d", n, res.IsTruncated, pageSize)
		}
		for _, v := range res.Versions {
			rows = append(rows, versionRow{Key: v.Key, ID: v.VersionID, Latest: v.IsLatest, Marker: v.DeleteMarker, ETagSeen: v.ETag != ""})
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			break
		}
		opts.KeyMarker, opts.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
	if !slices.Equal(rows, wantRows) || !slices.Equal(prefixes, wantPrefixes) {
		r.fatalf("list prefix %q delim %q key-marker %q by %d:\n got %+v %q\nwant %+v %q",
			prefix, delim, km, pageSize, rows, prefixes, wantRows, wantPrefixes)
	}
	// ListObjects shows the keys whose latest version is an object.
	lo, err := r.b.ListObjects(context.Background(), "bkt", storage.ListOptions{MaxKeys: 100})
	if err != nil {
		r.fatalf("ListObjects: %v", err)
	}
	var got, want []string
	for _, o := range lo.Objects {
		got = append(got, o.Key)
	}
	for _, k := range modelKeys {
		if vs := r.m.keys[k]; len(vs) > 0 && !vs[0].marker {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		r.fatalf("ListObjects = %q, want %q", got, want)
	}
}

// checkFiles checks the layout invariant: the object file exists iff the
// latest version is an object, and the versions directory only while
// there are other versions.
func (r *modelRun) checkFiles(key string) {
	kf := keyFilesOf("bkt", key)
	vs := r.m.keys[key]
	_, err := r.b.root.Stat(kf.obj)
	if hasObj := err == nil; hasObj != (len(vs) > 0 && !vs[0].marker) {
		r.fatalf("%q: object file %v, versions %+v", key, err, vs)
	}
	names, err := readNames(r.b.root, kf.vdir)
	if err != nil {
		r.fatalf("%q: %v", key, err)
	}
	wantNames := len(vs)
	if len(vs) > 0 && !vs[0].marker {
		wantNames--
	}
	if len(names) != wantNames {
		r.fatalf("%q: versions directory %q, versions %+v", key, names, vs)
	}
	if len(vs) == 0 {
		if _, err := r.b.root.Stat(kf.vdir); !errors.Is(err, fs.ErrNotExist) {
			r.fatalf("%q: empty versions directory left: %v", key, err)
		}
	}
}
