package iam

import (
	"errors"
	"fmt"
	"strings"
)

// ruleEntry is one resource of one rule in compiled form.
type ruleEntry struct {
	bucket  string // the bucket the pattern is confined to, or "" (global)
	p       pattern
	actions uint8 // bit i set: the rule names the action of index i
	deny    bool
}

// allActions is the action mask of ActionAll.
const allActions = 1<<numActions - 1

// CompiledGroup is the compiled form of a group's rules, built once
// (CompileGroup) and merged into the compiled form of each of its members
// (CompileUser). It is immutable and safe for concurrent use.
type CompiledGroup struct {
	id      string
	entries []ruleEntry
}

// ID returns the group's id.
func (g *CompiledGroup) ID() string { return g.id }

// CompileGroup validates and compiles the rules of g.
func CompileGroup(g Group) (*CompiledGroup, error) {
	n := 0
	for _, r := range g.Permissions {
		n += len(r.Resources)
	}
	entries, err := appendRules(make([]ruleEntry, 0, n), g.Permissions)
	if err != nil {
		return nil, fmt.Errorf("compile iam: group %q: %w", g.ID, PrefixError("permissions", err))
	}
	return &CompiledGroup{id: g.ID, entries: entries}, nil
}

// appendRules validates rules and appends their compiled entries to dst.
// Field paths of errors are "[i]...".
func appendRules(dst []ruleEntry, rules []Rule) ([]ruleEntry, error) {
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return dst, PrefixError(fmt.Sprintf("[%d]", i), err)
		}
		var mask uint8
		for _, a := range r.Actions {
			if a == ActionAll {
				mask = allActions
				continue
			}
			mask |= 1 << actionIndex(a)
		}
		deny := r.Effect == EffectDeny
		for _, res := range r.Resources {
			p, bucket := compilePattern(res)
			dst = append(dst, ruleEntry{bucket: bucket, p: p, actions: mask, deny: deny})
		}
	}
	return dst, nil
}

// compilePattern returns the compiled pattern of a valid resource and the
// bucket it is confined to ("" for patterns that may match several buckets).
func compilePattern(res string) (pattern, string) {
	if res == "*" {
		return pattern{kind: patAny}, ""
	}
	body, isPrefix := strings.CutSuffix(res, "*")
	bucket, rest, hasSlash := strings.Cut(body, "/")
	switch {
	case isPrefix && !hasSlash:
		return pattern{kind: patPrefix, s: body}, ""
	case isPrefix:
		return pattern{kind: patKeyPrefix, s: rest}, bucket
	case hasSlash:
		return pattern{kind: patObject, s: rest}, bucket
	default:
		return pattern{kind: patBucket}, bucket
	}
}

// CompileUser validates and compiles u's own rules and merges them with the
// compiled rules of its groups, looked up by id in groups. It fails on an
// invalid rule or an unknown group id. The result holds u's id, name, keys
// and enabled flag; it is immutable.
func CompileUser(u User, groups map[string]*CompiledGroup) (*CompiledUser, error) {
	return (&UserCompiler{groups: groups}).compile(u, false)
}

// UserCompiler compiles many users against one set of compiled groups,
// like CompileUser, but carves their compiled forms out of shared blocks
// instead of allocating each piece: a few large allocations for thousands
// of users. A block stays in memory while any user carved from it does.
// A UserCompiler is not safe for concurrent use: use one per goroutine.
type UserCompiler struct {
	groups map[string]*CompiledGroup
	users  []CompiledUser
	pats   []pattern
	starts []uint32
	names  []string
}

// NewUserCompiler returns a UserCompiler for users of groups.
func NewUserCompiler(groups map[string]*CompiledGroup) *UserCompiler {
	return &UserCompiler{groups: groups}
}

// Compile is CompileUser(u, groups).
func (c *UserCompiler) Compile(u User) (*CompiledUser, error) {
	return c.compile(u, true)
}

// Block sizes of a UserCompiler, in elements.
const (
	userBlock    = 256
	patternBlock = 4096
	offsetBlock  = 8192
	nameBlock    = 1024
)

// carve returns n elements of *block (full capacity n), refilling it with
// a fresh block of size when short; a request larger than an eighth of a
// block gets its own allocation, so blocks are not wasted. Without blocks
// (shared false), it allocates exactly n.
func carve[T any](block *[]T, n, size int, shared bool) []T {
	if !shared || n > size/8 {
		return make([]T, n)
	}
	if n > cap(*block)-len(*block) {
		*block = make([]T, 0, size)
	}
	l := len(*block)
	*block = (*block)[:l+n]
	return (*block)[l : l+n : l+n]
}

func (c *UserCompiler) compile(u User, shared bool) (*CompiledUser, error) {
	var ownBuf [16]ruleEntry
	own, err := appendRules(ownBuf[:0], u.Permissions)
	if err != nil {
		return nil, fmt.Errorf("compile iam: user %q: %w", u.ID, PrefixError("permissions", err))
	}
	var groupBuf [8][]ruleEntry
	gs := groupBuf[:0]
	for _, gid := range u.GroupIDs {
		g, ok := c.groups[gid]
		if !ok || g == nil {
			return nil, fmt.Errorf("compile iam: user %q: unknown group id %q", u.ID, gid)
		}
		gs = append(gs, g.entries)
	}
	cu := &carve(&c.users, 1, userBlock, shared)[0]
	*cu = CompiledUser{
		id:          u.ID,
		name:        u.Name,
		accessKeyID: u.AccessKeyID,
		secret:      u.SecretAccessKey,
		enabled:     u.Enabled,
	}
	c.merge(cu, own, gs, shared)
	return cu, nil
}

// bucketIndex returns the number of bucket name among the buckets met so
// far while merging: 0 for the global set, 1.. for names[0..]. Few names
// are searched linearly; beyond linearBuckets, idx maps them.
func bucketIndex(names []string, idx map[string]int, name string) (int, bool) {
	if name == "" {
		return 0, true
	}
	if idx != nil {
		i, ok := idx[name]
		return i + 1, ok
	}
	for i, v := range names {
		if v == name {
			return i + 1, true
		}
	}
	return 0, false
}

// merge lays out own entries and those of the user's groups in u's sets
// (see CompiledUser.pats), keeping the order of the entries: a counting
// sort. It allocates the patterns, their offsets, the bucket list and, for
// users with many buckets, their index.
func (c *UserCompiler) merge(u *CompiledUser, own []ruleEntry, groups [][]ruleEntry, shared bool) {
	var nameBuf [linearBuckets]string
	names := nameBuf[:0]
	var idx map[string]int // set once there are more than linearBuckets
	var countBuf [(linearBuckets + 1) * slotsPerBucket]int
	counts := countBuf[:slotsPerBucket]
	for si := -1; si < len(groups); si++ {
		src := own
		if si >= 0 {
			src = groups[si]
		}
		for i := range src {
			e := &src[i]
			bi, ok := bucketIndex(names, idx, e.bucket)
			if !ok {
				names = append(names, e.bucket)
				bi = len(names)
				counts = append(counts, make([]int, slotsPerBucket)...)
				switch {
				case idx != nil:
					idx[e.bucket] = bi - 1
				case len(names) > linearBuckets:
					idx = make(map[string]int) // no size hint: up to 8 buckets, a small map (no hashing)
					for j, v := range names {
						idx[v] = j
					}
				}
			}
			for ai := range numActions {
				if e.actions&(1<<ai) != 0 {
					counts[bi*slotsPerBucket+slot(ai, e.deny)]++
				}
			}
		}
	}
	total := 0
	for k, c := range counts { // counts become start offsets
		counts[k] = total
		total += c
	}
	if total == 0 {
		return
	}
	u.pats = carve(&c.pats, total, patternBlock, shared)
	u.starts = carve(&c.starts, len(counts)+1, offsetBlock, shared)
	for k, start := range counts {
		u.starts[k] = uint32(start)
	}
	u.starts[len(counts)] = uint32(total)
	for si := -1; si < len(groups); si++ {
		src := own
		if si >= 0 {
			src = groups[si]
		}
		for i := range src {
			e := &src[i]
			bi, _ := bucketIndex(names, idx, e.bucket)
			for ai := range numActions {
				if e.actions&(1<<ai) != 0 {
					k := bi*slotsPerBucket + slot(ai, e.deny)
					u.pats[counts[k]] = e.p
					counts[k]++ // the next position of set k
				}
			}
		}
	}
	if len(names) > 0 {
		u.buckets = carve(&c.names, len(names), nameBlock, shared)
		copy(u.buckets, names)
		u.bucketIdx = idx
	}
}

// ErrDuplicate is returned by NewAuthorizer and Compile when two users share
// an id or an access key id.
var ErrDuplicate = errors.New("duplicate")

// NewAuthorizer indexes compiled users by id and access key id. It fails
// (ErrDuplicate) when two users share an id or an access key id. The users
// may come from different CompileUser calls, e.g. reused from the
// Authorizer of an earlier snapshot.
func NewAuthorizer(users []*CompiledUser) (*Authorizer, error) {
	a := &Authorizer{
		byKey: make(map[string]*CompiledUser, len(users)),
		byID:  make(map[string]*CompiledUser, len(users)),
	}
	for _, u := range users {
		if u == nil {
			return nil, errors.New("compile iam: nil user")
		}
		if _, dup := a.byID[u.id]; dup {
			return nil, fmt.Errorf("compile iam: %w user id %q", ErrDuplicate, u.id)
		}
		if _, dup := a.byKey[u.accessKeyID]; dup {
			return nil, fmt.Errorf("compile iam: user %q: %w access key id", u.id, ErrDuplicate)
		}
		a.byID[u.id] = u
		a.byKey[u.accessKeyID] = u
	}
	return a, nil
}

// Compile builds the Authorizer of users and groups. Each group's rules are
// compiled once and shared by its members (through User.GroupIDs). It fails
// on an invalid rule, an unknown group id, or a duplicate user id, group id
// or access key.
func Compile(users []User, groups []Group) (*Authorizer, error) {
	cgs := make(map[string]*CompiledGroup, len(groups))
	for _, g := range groups {
		if _, dup := cgs[g.ID]; dup {
			return nil, fmt.Errorf("compile iam: %w group id %q", ErrDuplicate, g.ID)
		}
		cg, err := CompileGroup(g)
		if err != nil {
			return nil, err
		}
		cgs[g.ID] = cg
	}
	c := NewUserCompiler(cgs)
	cus := make([]*CompiledUser, len(users))
	for i, u := range users {
		cu, err := c.Compile(u)
		if err != nil {
			return nil, err
		}
		cus[i] = cu
	}
	return NewAuthorizer(cus)
}
