package iam

import "strings"

// Action indexes of compiled rule sets.
const (
	idxRead = iota
	idxWrite
	idxDelete
	idxList
	idxAdmin
	numActions
)

// actionIndex maps a requested action to its rule-set index, or -1.
// ActionAll is not a request action: it only appears in rules.
func actionIndex(a Action) int {
	switch a {
	case ActionRead:
		return idxRead
	case ActionWrite:
		return idxWrite
	case ActionDelete:
		return idxDelete
	case ActionList:
		return idxList
	case ActionAdmin:
		return idxAdmin
	}
	return -1
}

type patternKind uint8

const (
	// Patterns that may match several buckets; s is matched against the
	// whole "bucket/key" string.
	patAny    patternKind = iota // "*"
	patPrefix                    // "buck*": s is the text before '*'

	// Patterns confined to one bucket, stored in that bucket's sets of
	// CompiledUser; s is relative to "bucket/".
	patBucket    // "bucket": the bucket itself
	patObject    // "bucket/key": s is the key
	patKeyPrefix // "bucket/prefix*": s is the key prefix (may be "")
)

type pattern struct {
	kind patternKind
	s    string
}

// requestMode is how a pattern is matched against a request.
type requestMode uint8

const (
	modeObject requestMode = iota // object operation on bucket/key
	modeBucket                    // non-list operation on the bucket itself (key "")
	modeList                      // listing bucket with key as the requested prefix
)

// CompiledUser is a user with its own and its groups' rules compiled for
// fast, allocation-free authorization. It is immutable and safe for
// concurrent use.
type CompiledUser struct {
	id          string
	name        string
	accessKeyID string
	secret      string
	enabled     bool
	// pats holds every pattern of the user, grouped by set: by bucket (0:
	// the global patterns, not tied to one bucket, like "*" and "buck*";
	// i+1: those confined to buckets[i]), then action, then effect. Set k
	// is pats[starts[k]:starts[k+1]] (see set); starts is nil when the user
	// has no pattern at all.
	pats    []pattern
	starts  []uint32
	buckets []string
	// Up to linearBuckets buckets are searched linearly; beyond, bucketIdx
	// maps a bucket name to its position in buckets.
	bucketIdx map[string]int
}

// slotsPerBucket is the number of sets of a bucket: one per action and
// effect.
const slotsPerBucket = numActions * 2

// slot is the position of the (action, effect) set within its bucket's.
func slot(ai int, deny bool) int {
	if deny {
		return ai*2 + 1
	}
	return ai * 2
}

// set returns the patterns of bucket number bi (0: global) for action
// index ai and the given effect.
func (u *CompiledUser) set(bi, ai int, deny bool) []pattern {
	k := bi*slotsPerBucket + slot(ai, deny)
	if k+1 >= len(u.starts) {
		return nil
	}
	return u.pats[u.starts[k]:u.starts[k+1]]
}

// linearBuckets is the number of buckets up to which a linear search
// beats a map lookup.
const linearBuckets = 6

// bucketNum returns the number of the bucket's sets (see set), or 0 when
// no pattern is confined to it.
func (u *CompiledUser) bucketNum(name string) int {
	if u.bucketIdx != nil {
		if i, ok := u.bucketIdx[name]; ok {
			return i + 1
		}
		return 0
	}
	for i, b := range u.buckets {
		if b == name {
			return i + 1
		}
	}
	return 0
}

// ID returns the user's id.
func (u *CompiledUser) ID() string { return u.id }

// Name returns the user's name.
func (u *CompiledUser) Name() string { return u.name }

// AccessKeyID returns the user's access key id.
func (u *CompiledUser) AccessKeyID() string { return u.accessKeyID }

// SecretAccessKey returns the user's secret access key (for SigV4
// verification; never log it).
func (u *CompiledUser) SecretAccessKey() string { return u.secret }

// Enabled reports whether the user is enabled. A disabled user is never
// allowed anything.
func (u *CompiledUser) Enabled() bool { return u.enabled }

// Allowed reports whether the user may perform action on bucket/key.
//
//   - Object operations pass the object key; operations on the bucket itself
//     pass key "".
//   - For ActionList, key is the requested listing prefix ("" for the whole
//     bucket); bucket "" means the list of buckets (ListBuckets).
//   - Deny beats Allow; no matching Allow means denied; a disabled user is
//     always denied.
//
// The semantics are documented in docs/iam.md. Allowed does not allocate.
func (u *CompiledUser) Allowed(action Action, bucket, key string) bool {
	if u == nil || !u.enabled {
		return false
	}
	ai := actionIndex(action)
	if ai < 0 {
		return false
	}
	if bucket == "" {
		// The service level: only ListBuckets. Every enabled user may list
		// buckets (the answer is filtered with BucketVisible) unless a Deny
		// list rule covers everything.
		return ai == idxList && !hasAnyPattern(u.set(0, idxList, true))
	}
	mode := modeObject
	switch {
	case ai == idxList:
		mode = modeList
	case key == "":
		mode = modeBucket
	}
	bi := u.bucketNum(bucket)
	if matchAny(u.set(0, ai, true), mode, true, bucket, key) ||
		(bi > 0 && matchAny(u.set(bi, ai, true), mode, true, bucket, key)) {
		return false
	}
	return matchAny(u.set(0, ai, false), mode, false, bucket, key) ||
		(bi > 0 && matchAny(u.set(bi, ai, false), mode, false, bucket, key))
}

// BucketVisible reports whether bucket should appear in the user's
// ListBuckets answer: the user is enabled, some Allow rule (any action)
// can match something in the bucket, and no Deny list rule covers the
// whole bucket.
func (u *CompiledUser) BucketVisible(bucket string) bool {
	if u == nil || !u.enabled || bucket == "" {
		return false
	}
	bi := u.bucketNum(bucket)
	if matchAny(u.set(0, idxList, true), modeBucket, false, bucket, "") ||
		(bi > 0 && matchAny(u.set(bi, idxList, true), modeBucket, false, bucket, "")) {
		return false
	}
	for ai := range numActions {
		for _, p := range u.set(0, ai, false) {
			if touches(p, bucket) {
				return true
			}
		}
		if bi > 0 && len(u.set(bi, ai, false)) > 0 {
			return true // every pattern confined to the bucket names it
		}
	}
	return false
}

func hasAnyPattern(ps []pattern) bool {
	for _, p := range ps {
		if p.kind == patAny {
			return true
		}
	}
	return false
}

// matchAny reports whether some pattern of ps matches the request (deny:
// ps are Deny patterns, which also match listings that could reveal what
// they deny). It is inlined, so an empty set (most are) costs no call.
func matchAny(ps []pattern, mode requestMode, deny bool, bucket, key string) bool {
	return len(ps) > 0 && matchPatterns(ps, mode, deny, bucket, key)
}

// matchPatterns is matchAny for a non-empty set. Each mode has its own
// loop with the pattern semantics of docs/iam.md inlined: this is the hot
// path of every request.
func matchPatterns(ps []pattern, mode requestMode, deny bool, bucket, key string) bool {
	switch mode {
	case modeObject:
		return matchObject(ps, bucket, key)
	case modeBucket:
		return matchBucket(ps, bucket)
	}
	return matchList(ps, deny, bucket, key)
}

// matchObject matches an operation on the object bucket/key.
func matchObject(ps []pattern, b, k string) bool {
	for i := range ps {
		p := &ps[i]
		switch p.kind {
		case patAny:
			return true
		case patPrefix:
			if covers(p.s, b, k) {
				return true
			}
		case patObject:
			if p.s == k {
				return true
			}
		case patKeyPrefix:
			if strings.HasPrefix(k, p.s) {
				return true
			}
		} // patBucket: the bucket itself, not its objects
	}
	return false
}

// matchBucket matches an operation on the bucket itself (not a listing).
func matchBucket(ps []pattern, b string) bool {
	for i := range ps {
		p := &ps[i]
		switch p.kind {
		case patAny, patBucket:
			return true
		case patPrefix:
			if covers(p.s, b, "") {
				return true
			}
		case patKeyPrefix: // only a pattern covering the whole bucket
			if p.s == "" {
				return true
			}
		} // patObject: one object is not the bucket
	}
	return false
}

// matchList matches a listing of bucket b with prefix k. A Deny pattern
// also matches when it lies within the listed range.
func matchList(ps []pattern, deny bool, b, k string) bool {
	for i := range ps {
		p := &ps[i]
		switch p.kind {
		case patAny, patBucket: // the bucket pattern covers every listing of it
			return true
		case patPrefix:
			if covers(p.s, b, k) { // s has no '/', so no listing can be "within" it
				return true
			}
		case patObject: // a denied object inside the listing denies the listing
			if deny && strings.HasPrefix(p.s, k) {
				return true
			}
		case patKeyPrefix:
			if strings.HasPrefix(k, p.s) || (deny && strings.HasPrefix(p.s, k)) {
				return true
			}
		}
	}
	return false
}

// covers reports whether the string b+"/"+k starts with p, without building it.
func covers(p, b, k string) bool {
	if len(p) <= len(b) {
		return b[:len(p)] == p
	}
	if p[:len(b)] != b || p[len(b)] != '/' {
		return false
	}
	return strings.HasPrefix(k, p[len(b)+1:])
}

// touches reports whether pattern p can match the bucket or anything in
// it. Bucket-confined patterns always touch their bucket.
func touches(p pattern, bucket string) bool {
	switch p.kind {
	case patAny:
		return true
	case patPrefix:
		return covers(p.s, bucket, "")
	}
	return true
}

// Authorizer is the compiled form of a set of users and groups: credential
// lookup by access key in O(1) and per-user compiled rules. It is immutable
// and safe for concurrent use; build a new one for every configuration
// snapshot.
type Authorizer struct {
	byKey map[string]*CompiledUser
	byID  map[string]*CompiledUser
}

// Lookup returns the enabled user holding accessKeyID. Disabled users are
// not returned, so their keys authenticate nothing.
func (a *Authorizer) Lookup(accessKeyID string) (*CompiledUser, bool) {
	if a == nil {
		return nil, false
	}
	u, ok := a.byKey[accessKeyID]
	if !ok || !u.enabled {
		return nil, false
	}
	return u, true
}

// User returns the compiled user with the given id, enabled or not.
func (a *Authorizer) User(id string) (*CompiledUser, bool) {
	if a == nil {
		return nil, false
	}
	u, ok := a.byID[id]
	return u, ok
}

// Len returns the number of compiled users.
func (a *Authorizer) Len() int {
	if a == nil {
		return 0
	}
	return len(a.byID)
}
