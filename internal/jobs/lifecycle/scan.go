package lifecycle

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// visitFn receives each action as it is decided, or the error that kept
// the scanner from deciding about one object (a destination HEAD that
// failed). A non-nil return stops the scan and is returned by it.
type visitFn func(a Action, decideErr error) error

// scanner lists a rule's scope and decides, object by object, what a run
// does: the one decision procedure of both PlanRule and Apply.
type scanner struct {
	rule   config.LifecycleRule
	now    time.Time
	filter config.KeyFilter
	src    Store
	bucket string // the source bucket's name on src
	dst    Store  // transition only
	dstBkt string
	page   int
	st     *Stats
	visit  visitFn
}

func scan(ctx context.Context, resolve Resolver, rule config.LifecycleRule, now time.Time, st *Stats, visit visitFn) error {
	if err := checkRule(rule); err != nil {
		return err
	}
	filter, err := rule.Filter()
	if err != nil {
		return fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	s := &scanner{rule: rule, now: now, filter: filter, st: st, visit: visit, page: maxPage}
	if rule.BatchSize > 0 && rule.BatchSize < maxPage {
		s.page = rule.BatchSize
	}
	s.src, s.bucket = resolve(rule.Bucket)
	if s.src == nil {
		return fmt.Errorf("rule %s: no backend serves bucket %s", rule.Name, rule.Bucket)
	}
	switch rule.Action.Type {
	case config.ActionRetainNewest:
		return s.walk(ctx, rule.Prefix)
	case config.ActionTransition:
		s.dst, s.dstBkt = resolve(rule.Action.Destination.Bucket)
		if s.dst == nil {
			return fmt.Errorf("rule %s: no backend serves bucket %s", rule.Name, rule.Action.Destination.Bucket)
		}
	}
	return s.flat(ctx)
}

func (s *scanner) selected(key string) bool {
	return !strings.HasPrefix(key, ReservedPrefix) && s.filter.Match(key)
}

func (s *scanner) list(ctx context.Context, prefix, delimiter, marker string) (*storage.ListResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	page, err := s.src.ListObjects(ctx, s.bucket, storage.ListOptions{Prefix: prefix, Delimiter: delimiter, Marker: marker, MaxKeys: s.page})
	if err != nil {
		return nil, fmt.Errorf("list %s/%s after %q: %w", s.rule.Bucket, prefix, marker, err)
	}
	return page, nil
}

// nextMarker is where the listing goes on after page.
func nextMarker(page *storage.ListResult) string {
	if page.NextMarker != "" {
		return page.NextMarker
	}
	last := ""
	if n := len(page.Objects); n > 0 {
		last = page.Objects[n-1].Key
	}
	if n := len(page.CommonPrefixes); n > 0 && page.CommonPrefixes[n-1] > last {
		last = page.CommonPrefixes[n-1]
	}
	return last
}

func (s *scanner) action(op Op, o storage.ObjectInfo, reason string) Action {
	return Action{Op: op, Bucket: s.rule.Bucket, Key: o.Key, Size: o.Size, ETag: o.ETag,
		LastModified: o.LastModified, Reason: reason}
}

func (s *scanner) emit(a Action, decideErr error) error {
	if decideErr == nil {
		s.st.Actions++
		s.st.ActionBytes += a.Size
	}
	return s.visit(a, decideErr)
}

// flat is delete and transition: one listing of the prefix, each object
// judged by its age alone.
func (s *scanner) flat(ctx context.Context) error {
	marker := ""
	for {
		page, err := s.list(ctx, s.rule.Prefix, "", marker)
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if !s.selected(o.Key) {
				continue
			}
			s.st.Scanned++
			age := s.now.Sub(o.LastModified)
			if age < s.rule.ExpireAfter {
				continue
			}
			reason := fmt.Sprintf("age %s >= expire_after %s", age.Round(time.Second), s.rule.ExpireAfter)
			var err error
			if s.rule.Action.Type == config.ActionDelete {
				err = s.emit(s.action(OpDelete, o, reason), nil)
			} else {
				err = s.transition(ctx, o, reason)
			}
			if err != nil {
				return err
			}
		}
		if !page.IsTruncated {
			return nil
		}
		if marker, err = advance(page, marker); err != nil {
			return fmt.Errorf("list %s/%s: %w", s.rule.Bucket, s.rule.Prefix, err)
		}
	}
}

// advance returns the marker after page, refusing a listing that would
// not move on (a truncated page naming nothing past marker).
func advance(page *storage.ListResult, marker string) (string, error) {
	next := nextMarker(page)
	if next <= marker {
		return "", fmt.Errorf("truncated page does not advance past %q", marker)
	}
	return next, nil
}

func (s *scanner) transition(ctx context.Context, o storage.ObjectInfo, reason string) error {
	d := s.rule.Action.Destination
	a := s.action(OpTransition, o, reason)
	a.DestinationBucket = d.Bucket
	a.DestinationKey = d.Prefix + strings.TrimPrefix(o.Key, s.rule.Prefix)
	a.DeleteSource = s.rule.Action.DeleteSourceAfterSuccess
	if strings.HasPrefix(a.DestinationKey, ReservedPrefix) {
		return s.emit(a, fmt.Errorf("destination key %s: %w", a.DestinationKey, ErrReserved))
	}
	there, err := sameAtDestination(ctx, s.src, s.bucket, s.dst, s.dstBkt, a)
	if err != nil {
		return s.emit(a, err)
	}
	if there {
		s.st.AlreadyTransitioned++
		if !a.DeleteSource {
			return nil
		}
		a.AlreadyAtDestination = true
	}
	return s.emit(a, nil)
}

// sameAtDestination reports whether the destination already holds the
// bytes of a's source: same size, and the same ETag or (when the source's
// ETag is not a plain MD5, as after a multipart upload) the source's MD5,
// read, equal to the destination's plain-MD5 ETag.
func sameAtDestination(ctx context.Context, src Store, srcBkt string, dst Store, dstBkt string, a Action) (bool, error) {
	info, err := dst.HeadObject(ctx, dstBkt, a.DestinationKey, storage.GetOptions{})
	if errors.Is(err, s3err.ErrNoSuchKey) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("head destination %s/%s: %w", a.DestinationBucket, a.DestinationKey, err)
	}
	if info.Size != a.Size {
		return false, nil
	}
	if sameETag(info.ETag, a.ETag) {
		return true, nil
	}
	dstSum, ok := plainMD5(info.ETag)
	if !ok {
		return false, nil
	}
	if _, plain := plainMD5(a.ETag); plain {
		return false, nil // two plain MD5s that differ
	}
	sum, err := readMD5(ctx, src, srcBkt, a.Key, a.ETag)
	if err != nil {
		// Changed or gone since listed: the run's own GET will say so.
		return false, nil
	}
	return string(sum) == string(dstSum), nil
}

// walk is retain-newest over the directory prefix (and the rule's prefix
// for the first call): its own objects form one group, each common prefix
// is walked in turn, depth first, while this level's page and heap wait.
func (s *scanner) walk(ctx context.Context, prefix string) error {
	group := prefix[:strings.LastIndex(prefix, "/")+1]
	kept := &newest{}
	marker, lastCP := "", ""
	for {
		page, err := s.list(ctx, prefix, "/", marker)
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if !s.selected(o.Key) {
				continue
			}
			s.st.Scanned++
			if err := s.rank(kept, slim(o), group); err != nil {
				return err
			}
		}
		for _, cp := range page.CommonPrefixes {
			if cp <= lastCP || cp == ReservedPrefix {
				continue
			}
			lastCP = cp
			if err := s.walk(ctx, cp); err != nil {
				return err
			}
		}
		if !page.IsTruncated {
			return nil
		}
		if marker, err = advance(page, marker); err != nil {
			return fmt.Errorf("list %s/%s: %w", s.rule.Bucket, prefix, err)
		}
	}
}

// slim drops what ranking does not need, bounding the heap's memory.
func slim(o storage.ObjectInfo) storage.ObjectInfo {
	return storage.ObjectInfo{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified}
}

// rank adds o to its group's newest: a qualifying object pushed out of
// the newest count (or never in it) has count newer qualifying objects
// in the group, so it is deleted unless protected by its age.
func (s *scanner) rank(kept *newest, o storage.ObjectInfo, group string) error {
	a := s.rule.Action
	age := s.now.Sub(o.LastModified)
	if o.Size < a.Qualify.MinSizeBytes || age < a.Qualify.MinAge {
		return nil
	}
	out := o
	if kept.Len() < a.Count {
		heap.Push(kept, o)
		return nil
	}
	if isNewer(o, (*kept)[0]) {
		out = (*kept)[0]
		(*kept)[0] = o
		heap.Fix(kept, 0)
	}
	outAge := s.now.Sub(out.LastModified)
	if a.ProtectYoungerThan > 0 && outAge < a.ProtectYoungerThan {
		s.st.Protected++
		return nil
	}
	dir := group
	if dir == "" {
		dir = "the bucket's top level"
	}
	return s.emit(s.action(OpDelete, out, fmt.Sprintf("at least %d newer qualifying objects in %s", a.Count, dir)), nil)
}

// isNewer orders objects by LastModified, then key.
func isNewer(a, b storage.ObjectInfo) bool {
	if !a.LastModified.Equal(b.LastModified) {
		return a.LastModified.After(b.LastModified)
	}
	return a.Key > b.Key
}

// newest is a min-heap (the oldest on top) of a group's newest objects.
type newest []storage.ObjectInfo

func (h newest) Len() int           { return len(h) }
func (h newest) Less(i, j int) bool { return isNewer(h[j], h[i]) }
func (h newest) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newest) Push(x any)        { *h = append(*h, x.(storage.ObjectInfo)) }
func (h *newest) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
