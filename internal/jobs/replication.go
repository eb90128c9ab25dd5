package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// internalPrefix is dgp's own key space, never replicated.
const internalPrefix = ".deltaglider/"

// listPage is the page size of the reconcile's listings.
const listPage = 1000

// replication is a replication rule's Work.
type replication struct {
	e      *Engine
	rule   config.ReplicationRule
	filter config.KeyFilter
	conc   int
}

func newReplication(e *Engine, r config.ReplicationRule, conc int) (*replication, error) {
	f, err := r.Filter()
	if err != nil {
		return nil, err
	}
	if r.BatchSize <= 0 {
		r.BatchSize = config.DefaultJobBatchSize
	}
	return &replication{e: e, rule: r, filter: f, conc: conc}, nil
}

// action is one thing a run does to the destination.
type action struct {
	op       string // "copy", "delete", "check" (a queued key: look at both sides)
	src, dst string // source and destination keys
	info     storage.ObjectInfo
}

// eligible says whether a source key is the rule's: under its prefix,
// outside .deltaglider/ on both sides, and through its globs.
func (r *replication) eligible(srcKey string) bool {
	if !strings.HasPrefix(srcKey, r.rule.Source.Prefix) || strings.HasPrefix(srcKey, internalPrefix) {
		return false
	}
	if strings.HasPrefix(r.rule.DestinationKey(srcKey), internalPrefix) {
		return false
	}
	return r.filter.Match(srcKey)
}

// needsCopy applies the conflict policy to a key present on both sides.
func (r *replication) needsCopy(src, dst storage.ObjectInfo) bool {
	switch r.rule.Conflict {
	case config.ConflictSkipIfDestExists:
		return false
	case config.ConflictContentDiff:
		return contentDiffers(src, dst)
	default: // newer-wins
		// S3 dates have one-second resolution (HEAD's Last-Modified),
		// a directory's do not: times are compared to the second, and
		// within the same second (a write just after a copy) different
		// contents mean the source changed.
		s, d := src.LastModified.Truncate(time.Second), dst.LastModified.Truncate(time.Second)
		if s.Equal(d) {
			return contentDiffers(src, dst)
		}
		return s.After(d)
	}
}

// contentDiffers compares sizes, then ETags when both are plain MD5s (a
// multipart ETag "...-N" is not the content's MD5: sizes equal, such a
// pair counts as the same content).
func contentDiffers(src, dst storage.ObjectInfo) bool {
	if src.Size != dst.Size {
		return true
	}
	if plainETag(src.ETag) && plainETag(dst.ETag) {
		return src.ETag != dst.ETag
	}
	return false
}

func plainETag(e string) bool { return e != "" && !strings.Contains(e, "-") }

func (r *replication) sides() (src storage.Backend, srcBucket string, dst storage.Backend, dstBucket string) {
	src, srcBucket = r.e.buckets.Resolve(r.rule.Source.Bucket)
	dst, dstBucket = r.e.buckets.Resolve(r.rule.Destination.Bucket)
	return
}

// Run implements Work: the queued keys (every tick), and a full reconcile
// when due. Markers read before the reconcile's listings began are covered
// by it and deleted after it.
func (r *replication) Run(ctx context.Context, fence lease.Fence, full bool, p *Progress) error {
	markers, keys, err := r.readQueue(ctx)
	if err != nil {
		return err
	}
	if !full && len(markers) == 0 {
		return nil
	}
	if err := p.Begin(ctx); err != nil {
		return err
	}
	if full {
		if err := r.reconcile(ctx, fence, p, nil); err != nil {
			return err
		}
	} else {
		batch := make([]action, 0, r.rule.BatchSize)
		for _, k := range keys {
			batch = append(batch, action{op: "check", src: k, dst: r.rule.DestinationKey(k)})
			if len(batch) == r.rule.BatchSize {
				if err := r.apply(ctx, fence, p, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := r.apply(ctx, fence, p, batch); err != nil {
			return err
		}
	}
	return r.deleteMarkers(ctx, fence, p, markers)
}

// Preview implements Work: what a reconcile would do now (read-only).
func (r *replication) Preview(ctx context.Context) (any, error) {
	pv := &replicationPreview{Job: r.rule.JobID()}
	err := r.reconcile(ctx, nil, nil, pv)
	if err != nil {
		return nil, err
	}
	return pv, nil
}

// replicationPreview is the answer of a replication rule's preview.
type replicationPreview struct {
	Job        string          `json:"job"`
	Listed     int64           `json:"listed"`
	WouldCopy  int64           `json:"would_copy"`
	CopyBytes  int64           `json:"copy_bytes"`
	WouldDel   int64           `json:"would_delete"`
	Unchanged  int64           `json:"unchanged"`
	Sample     []previewAction `json:"sample"`
	SampleSize int             `json:"sample_limit"`
}

type previewAction struct {
	Op          string `json:"op"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"`
	Size        int64  `json:"size,omitempty"`
}

const previewSample = 100

func (pv *replicationPreview) note(a action) {
	switch a.op {
	case "copy":
		pv.WouldCopy++
		pv.CopyBytes += a.info.Size
	case "delete":
		pv.WouldDel++
	}
	pv.SampleSize = previewSample
	if len(pv.Sample) < previewSample {
		pa := previewAction{Op: a.op, Destination: a.dst, Size: a.info.Size}
		if a.op == "copy" {
			pa.Source = a.src
		}
		pv.Sample = append(pv.Sample, pa)
	}
}

// lister pages through one side's listing under a prefix.
type lister struct {
	b           storage.Backend
	bucket, pfx string
	page        []storage.ObjectInfo
	marker      string
	done        bool
}

// next returns the next object, or ok false at the end.
func (l *lister) next(ctx context.Context) (storage.ObjectInfo, bool, error) {
	for len(l.page) == 0 {
		if l.done {
			return storage.ObjectInfo{}, false, nil
		}
		res, err := l.b.ListObjects(ctx, l.bucket, storage.ListOptions{Prefix: l.pfx, Marker: l.marker, MaxKeys: listPage})
		if err != nil {
			return storage.ObjectInfo{}, false, fmt.Errorf("list %s/%s: %w", l.bucket, l.pfx, err)
		}
		l.page = res.Objects
		if !res.IsTruncated {
			l.done = true
		} else {
			l.marker = res.NextMarker
			if l.marker == "" && len(res.Objects) > 0 {
				l.marker = res.Objects[len(res.Objects)-1].Key
			}
		}
	}
	o := l.page[0]
	l.page = l.page[1:]
	return o, true, nil
}

// reconcile walks both listings in key order (neither held whole in
// memory) and applies the rule batch by batch; with pv set it only notes
// what it would do.
func (r *replication) reconcile(ctx context.Context, fence lease.Fence, p *Progress, pv *replicationPreview) error {
	sb, sbk, db, dbk := r.sides()
	sp, dp := r.rule.Source.Prefix, r.rule.Destination.Prefix
	src := &lister{b: sb, bucket: sbk, pfx: sp}
	dst := &lister{b: db, bucket: dbk, pfx: dp}
	so, sok, err := src.next(ctx)
	if err != nil {
		return err
	}
	do, dok, err := dst.next(ctx)
	if err != nil {
		return err
	}
	batch := make([]action, 0, r.rule.BatchSize)
	var listed, unchanged int64
	emit := func(a action) error {
		if pv != nil {
			pv.note(a)
			return nil
		}
		batch = append(batch, a)
		if len(batch) < r.rule.BatchSize {
			return nil
		}
		p.Add(Counts{Listed: listed, Skipped: unchanged})
		listed, unchanged = 0, 0
		err := r.apply(ctx, fence, p, batch)
		batch = batch[:0]
		return err
	}
	for sok || dok {
		var rel string
		switch {
		case sok && (!dok || so.Key[len(sp):] <= do.Key[len(dp):]):
			rel = so.Key[len(sp):]
		default:
			rel = do.Key[len(dp):]
		}
		inSrc := sok && so.Key[len(sp):] == rel
		inDst := dok && do.Key[len(dp):] == rel
		srcKey := sp + rel
		if r.eligible(srcKey) {
			var a *action
			switch {
			case inSrc && !inDst:
				a = &action{op: "copy", src: srcKey, dst: dp + rel, info: so}
			case inSrc && inDst:
				if r.needsCopy(so, do) {
					a = &action{op: "copy", src: srcKey, dst: dp + rel, info: so}
				} else {
					unchanged++
				}
			case !inSrc && inDst && r.rule.ReplicateDeletes:
				a = &action{op: "delete", dst: dp + rel, info: do}
			}
			if inSrc {
				listed++
			}
			if a != nil {
				if err := emit(*a); err != nil {
					return err
				}
			}
		}
		if inSrc {
			if so, sok, err = src.next(ctx); err != nil {
				return err
			}
		}
		if inDst {
			if do, dok, err = dst.next(ctx); err != nil {
				return err
			}
		}
	}
	if pv != nil {
		pv.Listed += listed
		pv.Unchanged += unchanged
		return nil
	}
	p.Add(Counts{Listed: listed, Skipped: unchanged})
	return r.apply(ctx, fence, p, batch)
}

// apply runs a batch with up to conc actions at once, then flushes the
// run's progress. An object's failure is recorded and the run goes on; a
// fence refusal (or the end of ctx) stops the run.
func (r *replication) apply(ctx context.Context, fence lease.Fence, p *Progress, batch []action) error {
	if len(batch) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.conc)
	for _, a := range batch {
		g.Go(func() error {
			err := r.do(gctx, fence, p, a)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, lease.ErrFenced), gctx.Err() != nil:
				return err
			}
			key := a.src
			if key == "" {
				key = a.dst
			}
			p.Fail(key, a.op, err)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return p.Flush(ctx)
}

// do performs one action.
func (r *replication) do(ctx context.Context, fence lease.Fence, p *Progress, a action) error {
	sb, sbk, db, dbk := r.sides()
	at := stamp(r.e.now()) // before the fence check: the write began no later
	if a.op == "check" {
		si, err := sb.HeadObject(ctx, sbk, a.src, storage.GetOptions{})
		srcGone := errors.Is(err, s3err.ErrNoSuchKey)
		if err != nil && !srcGone {
			return fmt.Errorf("head source: %w", err)
		}
		di, err := db.HeadObject(ctx, dbk, a.dst, storage.GetOptions{})
		dstGone := errors.Is(err, s3err.ErrNoSuchKey)
		if err != nil && !dstGone {
			return fmt.Errorf("head destination: %w", err)
		}
		switch {
		case srcGone && !dstGone && r.rule.ReplicateDeletes:
			a = action{op: "delete", dst: a.dst}
		case !srcGone && (dstGone || r.needsCopy(*si, *di)):
			a = action{op: "copy", src: a.src, dst: a.dst}
		default:
			p.Add(Counts{Skipped: 1})
			return nil
		}
	}
	log := p.Log()
	switch a.op {
	case "delete":
		if err := fence.Check(); err != nil {
			return err
		}
		if _, err := db.DeleteObject(ctx, dbk, a.dst, storage.DeleteOptions{}); err != nil && !errors.Is(err, s3err.ErrNoSuchKey) {
			return fmt.Errorf("delete destination: %w", err)
		}
		p.Add(Counts{Deleted: 1})
		log.Debug().Str("key", a.dst).Str("at", at).Msg("deleted")
		return nil
	case "copy":
		n, err := r.copy(ctx, fence, sb, sbk, db, dbk, a)
		if errors.Is(err, s3err.ErrNoSuchKey) { // deleted since it was listed
			p.Add(Counts{Skipped: 1})
			return nil
		}
		if err != nil {
			return err
		}
		p.Add(Counts{Copied: 1, Bytes: n})
		log.Debug().Str("key", a.src).Str("to", a.dst).Int64("bytes", n).Str("at", at).Msg("copied")
		return nil
	}
	return fmt.Errorf("unknown action %q", a.op)
}

// copy streams one object from the source to the destination with its
// content type, user metadata and stored headers; on one backend it is a
// server-side copy, and a large object to an object store goes in parts
// (copyParts).
func (r *replication) copy(ctx context.Context, fence lease.Fence, sb storage.Backend, sbk string, db storage.Backend, dbk string, a action) (int64, error) {
	if sb == db {
		if err := fence.Check(); err != nil {
			return 0, err
		}
		if _, err := db.CopyObject(ctx, storage.ObjectRef{Bucket: sbk, Key: a.src}, storage.ObjectRef{Bucket: dbk, Key: a.dst}, storage.CopyOptions{}); err != nil {
			return 0, err
		}
		si, err := db.HeadObject(ctx, dbk, a.dst, storage.GetOptions{})
		if err != nil {
			return 0, nil
		}
		return si.Size, nil
	}
	obj, err := sb.GetObject(ctx, sbk, a.src, storage.GetOptions{})
	if err != nil {
		return 0, err
	}
	defer obj.Body.Close()
	if obj.ContentRange == "" && inParts(db, obj.ContentLength) {
		return r.copyParts(ctx, fence, sb, sbk, db, dbk, a, obj)
	}
	if err := fence.Check(); err != nil {
		return 0, err
	}
	in := obj.Info
	_, err = db.PutObject(ctx, dbk, a.dst, obj.Body, obj.ContentLength, storage.PutOptions{
		ContentType: in.ContentType, UserMetadata: in.UserMetadata, Headers: in.Headers,
	})
	if err != nil {
		return 0, fmt.Errorf("put destination: %w", err)
	}
	return obj.ContentLength, nil
}
