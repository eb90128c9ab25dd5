package configdb

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// Op is one mutation of the configuration. Apply derives a new State from
// any base, leaving the base untouched and the generation unchanged (the
// publisher sets it). Everything random (ids, keys) is chosen when the Op is
// constructed, so applying the same Op to a newer base (a rebase after a
// lost compare-and-swap) gives the same result as on the old one, unless the
// newer base makes it inapplicable (ErrNotFound, ErrConflict, ErrInvalid).
type Op interface {
	// Apply returns the State that results from applying the Op to s at
	// time now, or an error wrapping ErrNotFound, ErrConflict or ErrInvalid.
	Apply(s *State, now time.Time) (*State, error)
	// Describe returns a short description for logs. It never contains
	// secrets.
	Describe() string
}

// draft is a copy-on-write working copy of a State's content: the
// top-level slices and the revocation map are fresh; inner slices (rules,
// membership lists) are shared with the base and must be replaced, never
// modified in place. Positions equal the base's until deleteUser/deleteGroup.
type draft struct {
	Data
	base *State
}

func newDraft(s *State) *draft {
	return &draft{
		Data: Data{
			Users:       slices.Clone(s.users),
			Groups:      slices.Clone(s.groups),
			Providers:   slices.Clone(s.providers),
			Revocations: maps.Clone(s.revocations),
		},
		base: s,
	}
}

// finish validates and compiles the draft at the base's generation,
// reusing what the draft holds unchanged from the base.
func (d *draft) finish() (*State, error) {
	return build(d.base.generation, d.Data, d.base)
}

func (d *draft) user(id string) (int, error) {
	i, ok := d.base.userByID[id]
	if !ok {
		return 0, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	return i, nil
}

func (d *draft) group(id string) (int, error) {
	i, ok := d.base.groupByID[id]
	if !ok {
		return 0, fmt.Errorf("group %q: %w", id, ErrNotFound)
	}
	return i, nil
}

func (d *draft) provider(id string) (int, error) {
	i, ok := d.base.providerByID[id]
	if !ok {
		return 0, fmt.Errorf("auth provider %q: %w", id, ErrNotFound)
	}
	return i, nil
}

// setMember records (or removes) membership of user ui in group gi on both
// sides.
func (d *draft) setMember(ui, gi int, member bool) {
	u, g := &d.Users[ui], &d.Groups[gi]
	if member {
		u.GroupIDs = withID(u.GroupIDs, g.ID)
		g.MemberIDs = withID(g.MemberIDs, u.ID)
	} else {
		u.GroupIDs = withoutID(u.GroupIDs, g.ID)
		g.MemberIDs = withoutID(g.MemberIDs, u.ID)
	}
}

// withID returns a new sorted slice holding ids and id.
func withID(ids []string, id string) []string {
	if slices.Contains(ids, id) {
		return ids
	}
	out := append(slices.Clip(ids), id)
	slices.Sort(out)
	return out
}

// withoutID returns a new slice holding ids except id (nil when empty).
func withoutID(ids []string, id string) []string {
	if !slices.Contains(ids, id) {
		return ids
	}
	out := make([]string, 0, len(ids)-1)
	for _, v := range ids {
		if v != id {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkIDs checks that every id of field exists in idx and is listed once.
func checkIDs(field, kind string, ids []string, idx map[string]int) error {
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if seen[id] {
			return fieldErr(f, "duplicate id %q", id)
		}
		seen[id] = true
		if _, ok := idx[id]; !ok {
			return fieldErr(f, "%s %q does not exist", kind, id)
		}
	}
	return nil
}

// RevokeSessions revokes every session of Identity (and of each of More)
// issued at or before Since (now when zero). Revocations only move
// forward: applying an older time than the one recorded changes nothing.
//
// With Retain positive, the same change drops every revocation (of any
// identity) recorded before now minus Retain: the caller sets it to the
// longest a session can live plus a clock-skew margin, so only
// revocations that can no longer match a valid session go. Pruning rides
// on a revocation that changes something: an Op that records nothing new
// returns its base unchanged (and publishes nothing), whatever it could
// prune.
type RevokeSessions struct {
	Identity string
	// More are further identities revoked at the same time.
	More   []string
	Since  time.Time
	Retain time.Duration
}

// Apply implements Op.
func (o *RevokeSessions) Apply(s *State, now time.Time) (*State, error) {
	ids := append([]string{o.Identity}, o.More...)
	for i, id := range ids {
		if err := validateIdentity(id); err != nil {
			field := "identity"
			if i > 0 {
				field = fmt.Sprintf("more[%d]", i-1)
			}
			return nil, iam.PrefixError(field, err)
		}
	}
	since := o.Since
	if since.IsZero() {
		since = now
	}
	since = since.UTC()
	var set []string
	for _, id := range ids {
		if cur, ok := s.revocations[id]; !ok || since.After(cur) {
			set = append(set, id)
		}
	}
	if len(set) == 0 {
		return s, nil
	}
	d := newDraft(s)
	for _, id := range set {
		d.Revocations[id] = since
	}
	if o.Retain > 0 {
		cutoff := now.Add(-o.Retain)
		maps.DeleteFunc(d.Revocations, func(_ string, t time.Time) bool { return t.Before(cutoff) })
	}
	return d.finish()
}

// Describe implements Op.
func (o *RevokeSessions) Describe() string {
	who := fmt.Sprintf("%q", o.Identity)
	if len(o.More) > 0 {
		who += fmt.Sprintf(" and %d more", len(o.More))
	}
	if o.Since.IsZero() {
		return "revoke sessions of " + who
	}
	return fmt.Sprintf("revoke sessions of %s since %s", who, o.Since.UTC().Format(time.RFC3339))
}

// MergeRevocations returns the union of a and b, taking the later time for
// identities present in both. Neither input is modified.
func MergeRevocations(a, b map[string]time.Time) map[string]time.Time {
	out := maps.Clone(a)
	if out == nil {
		out = make(map[string]time.Time, len(b))
	}
	for k, v := range b {
		if cur, ok := out[k]; !ok || v.After(cur) {
			out[k] = v
		}
	}
	return out
}

var (
	_ Op = (*CreateUser)(nil)
	_ Op = (*UpdateUser)(nil)
	_ Op = (*DeleteUser)(nil)
	_ Op = (*RotateKeys)(nil)
	_ Op = (*CreateGroup)(nil)
	_ Op = (*UpdateGroup)(nil)
	_ Op = (*DeleteGroup)(nil)
	_ Op = (*AddMember)(nil)
	_ Op = (*RemoveMember)(nil)
	_ Op = (*CreateProvider)(nil)
	_ Op = (*UpdateProvider)(nil)
	_ Op = (*DeleteProvider)(nil)
	_ Op = (*RevokeSessions)(nil)
)
