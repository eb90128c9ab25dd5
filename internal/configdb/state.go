// Package configdb is dgp's configuration database: an immutable State
// snapshot of IAM users, groups, auth providers and session revocations;
// Ops that derive a new State from any base (so a publisher can rebase);
// the sealed (encrypted, authenticated) file format with schema versions and
// migrations; atomic local persistence; and the Store that S3 requests read
// the current snapshot from without locks.
package configdb

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// Sentinel errors of Ops and State construction. They are wrapped with
// detail; branch on them with errors.Is.
var (
	// ErrNotFound: the user, group or provider an Op targets does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a name or access key is already taken.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: validation failed. Such errors are *iam.FieldError values
	// (errors.As gives the field path). It is the same value as iam.ErrInvalid.
	ErrInvalid = iam.ErrInvalid
)

// CurrentSchema is the schema version of the State this binary writes and
// the newest it can read.
const CurrentSchema = 1

// Data is the plain, encodable content of a State.
type Data struct {
	Users     []iam.User         `json:"users"`
	Groups    []iam.Group        `json:"groups"`
	Providers []iam.AuthProvider `json:"auth_providers"`
	// Revocations maps an identity (user id, provider subject, "admin", ...)
	// to the time from which its earlier sessions are revoked.
	Revocations map[string]time.Time `json:"session_revocations"`
}

// State is an immutable, validated snapshot of the configuration with its
// compiled IAM authorizer. All methods are safe for concurrent use; values
// returned by accessors are copies.
type State struct {
	generation  uint64
	users       []iam.User // sorted by name
	groups      []iam.Group
	providers   []iam.AuthProvider
	revocations map[string]time.Time

	indexes
	auth *iam.Authorizer
}

// indexes map ids, names and access keys to positions in State's slices.
type indexes struct {
	userByID       map[string]int
	userByName     map[string]int
	userByKey      map[string]int
	groupByID      map[string]int
	groupByName    map[string]int
	providerByID   map[string]int
	providerByName map[string]int
}

// Empty returns the State with no users, groups, providers or revocations,
// at generation 0.
func Empty() *State {
	s := &State{revocations: map[string]time.Time{}}
	s.indexes, _ = s.index()          // cannot fail: nothing to collide
	s.auth, _ = iam.Compile(nil, nil) // cannot fail on empty input
	return s
}

// NewState validates d (see Validate) and returns it as a State at the given
// generation. d is deep-copied; the caller may reuse it. Membership lists are
// sorted; entities are ordered by name.
func NewState(generation uint64, d Data) (*State, error) {
	return build(generation, cloneData(d))
}

// build takes ownership of d (no copy) and validates and compiles it.
func build(generation uint64, d Data) (*State, error) {
	// Inner slices may be shared with an older State: sort copies, never
	// in place.
	for i := range d.Users {
		d.Users[i].GroupIDs = sortedIDs(d.Users[i].GroupIDs)
		d.Users[i].CreatedAt = d.Users[i].CreatedAt.UTC()
	}
	for i := range d.Groups {
		d.Groups[i].MemberIDs = sortedIDs(d.Groups[i].MemberIDs)
	}
	for k, v := range d.Revocations {
		d.Revocations[k] = v.UTC()
	}
	slices.SortStableFunc(d.Users, func(a, b iam.User) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(d.Groups, func(a, b iam.Group) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(d.Providers, func(a, b iam.AuthProvider) int { return cmp.Compare(a.Name, b.Name) })
	if d.Revocations == nil {
		d.Revocations = map[string]time.Time{}
	}
	s := &State{
		generation:  generation,
		users:       d.Users,
		groups:      d.Groups,
		providers:   d.Providers,
		revocations: d.Revocations,
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s.indexes, _ = s.index() // Validate proved there are no duplicates
	auth, err := iam.Compile(s.users, s.groups)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err) // unreachable after Validate
	}
	s.auth = auth
	return s, nil
}

// index builds the lookup maps and reports the first duplicate id, name or
// access key. It does not modify s.
func (s *State) index() (indexes, error) {
	var x indexes
	x.userByID = make(map[string]int, len(s.users))
	x.userByName = make(map[string]int, len(s.users))
	x.userByKey = make(map[string]int, len(s.users))
	for i, u := range s.users {
		if _, dup := x.userByID[u.ID]; dup {
			return x, fieldErr(fmt.Sprintf("users[%s].id", u.ID), "duplicate user id %q", u.ID)
		}
		if _, dup := x.userByName[u.Name]; dup {
			return x, fieldErr(fmt.Sprintf("users[%s].name", u.ID), "duplicate user name %q", u.Name)
		}
		if _, dup := x.userByKey[u.AccessKeyID]; dup {
			return x, fieldErr(fmt.Sprintf("users[%s].access_key_id", u.ID), "access key id used by two users")
		}
		x.userByID[u.ID], x.userByName[u.Name], x.userByKey[u.AccessKeyID] = i, i, i
	}
	x.groupByID = make(map[string]int, len(s.groups))
	x.groupByName = make(map[string]int, len(s.groups))
	for i, g := range s.groups {
		if _, dup := x.groupByID[g.ID]; dup {
			return x, fieldErr(fmt.Sprintf("groups[%s].id", g.ID), "duplicate group id %q", g.ID)
		}
		if _, dup := x.groupByName[g.Name]; dup {
			return x, fieldErr(fmt.Sprintf("groups[%s].name", g.ID), "duplicate group name %q", g.Name)
		}
		x.groupByID[g.ID], x.groupByName[g.Name] = i, i
	}
	x.providerByID = make(map[string]int, len(s.providers))
	x.providerByName = make(map[string]int, len(s.providers))
	for i, p := range s.providers {
		if _, dup := x.providerByID[p.ID]; dup {
			return x, fieldErr(fmt.Sprintf("auth_providers[%s].id", p.ID), "duplicate provider id %q", p.ID)
		}
		if _, dup := x.providerByName[p.Name]; dup {
			return x, fieldErr(fmt.Sprintf("auth_providers[%s].name", p.ID), "duplicate provider name %q", p.Name)
		}
		x.providerByID[p.ID], x.providerByName[p.Name] = i, i
	}
	return x, nil
}

// Validate checks the invariants of the State: valid fields and rules;
// unique ids, names and access keys; no dangling group or member ids; and
// membership recorded on both sides (user.group_ids and group.member_ids).
// A State made by NewState, an Op or Open always passes.
func (s *State) Validate() error {
	x, err := s.index()
	if err != nil {
		return err
	}
	for _, u := range s.users {
		prefix := "users[" + u.ID + "]"
		if err := u.Validate(); err != nil {
			return iam.PrefixError(prefix, err)
		}
		for _, gid := range u.GroupIDs {
			gi, ok := x.groupByID[gid]
			if !ok {
				return fieldErr(prefix+".group_ids", "group %q does not exist", gid)
			}
			if !containsID(s.groups[gi].MemberIDs, u.ID) {
				return fieldErr(prefix+".group_ids", "group %q does not list the user as a member", gid)
			}
		}
	}
	for _, g := range s.groups {
		prefix := "groups[" + g.ID + "]"
		if err := g.Validate(); err != nil {
			return iam.PrefixError(prefix, err)
		}
		for _, uid := range g.MemberIDs {
			ui, ok := x.userByID[uid]
			if !ok {
				return fieldErr(prefix+".member_ids", "user %q does not exist", uid)
			}
			if !containsID(s.users[ui].GroupIDs, g.ID) {
				return fieldErr(prefix+".member_ids", "user %q does not list the group", uid)
			}
		}
	}
	for _, p := range s.providers {
		if err := p.Validate(); err != nil {
			return iam.PrefixError(fmt.Sprintf("auth_providers[%s]", p.ID), err)
		}
	}
	for id := range s.revocations {
		if err := validateIdentity(id); err != nil {
			return iam.PrefixError("session_revocations", err)
		}
	}
	return nil
}

// containsID reports whether ids holds id. Membership lists of a State are
// sorted by build before validation, so a binary search suffices.
func containsID(ids []string, id string) bool {
	_, found := slices.BinarySearch(ids, id)
	return found
}

func validateIdentity(id string) error {
	if id == "" || len(id) > 256 {
		return fieldErr("", "identity must be 1-256 characters")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f {
			return fieldErr("", "identity contains a control character")
		}
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return &iam.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Generation returns the generation of the snapshot (0 for a fresh DB). The
// publisher sets it (WithGeneration); Ops do not change it.
func (s *State) Generation() uint64 { return s.generation }

// Schema returns the schema version of the content: always CurrentSchema,
// since older schemas are migrated when read.
func (s *State) Schema() int { return CurrentSchema }

// WithGeneration returns a copy of s at generation g, sharing the immutable
// content and the compiled authorizer.
func (s *State) WithGeneration(g uint64) *State {
	c := *s
	c.generation = g
	return &c
}

// Authorizer returns the compiled IAM authorizer of the snapshot.
func (s *State) Authorizer() *iam.Authorizer { return s.auth }

// Lookup returns the enabled user holding accessKeyID, compiled for
// authorization (see iam.Authorizer.Lookup).
func (s *State) Lookup(accessKeyID string) (*iam.CompiledUser, bool) {
	return s.auth.Lookup(accessKeyID)
}

// Data returns a deep copy of the content.
func (s *State) Data() Data {
	return cloneData(Data{Users: s.users, Groups: s.groups, Providers: s.providers, Revocations: s.revocations})
}

// Users returns a copy of all users, ordered by name.
func (s *State) Users() []iam.User { return cloneAll(s.users, iam.User.Clone) }

// Groups returns a copy of all groups, ordered by name.
func (s *State) Groups() []iam.Group { return cloneAll(s.groups, iam.Group.Clone) }

// Providers returns a copy of all auth providers, ordered by name.
func (s *State) Providers() []iam.AuthProvider { return cloneAll(s.providers, iam.AuthProvider.Clone) }

// NumUsers returns the number of users.
func (s *State) NumUsers() int { return len(s.users) }

// User returns a copy of the user with the given id.
func (s *State) User(id string) (iam.User, bool) { return get(s.users, s.userByID, id, iam.User.Clone) }

// UserByName returns a copy of the user with the given name.
func (s *State) UserByName(name string) (iam.User, bool) {
	return get(s.users, s.userByName, name, iam.User.Clone)
}

// UserByAccessKey returns a copy of the user holding accessKeyID, enabled
// or not.
func (s *State) UserByAccessKey(accessKeyID string) (iam.User, bool) {
	return get(s.users, s.userByKey, accessKeyID, iam.User.Clone)
}

// Group returns a copy of the group with the given id.
func (s *State) Group(id string) (iam.Group, bool) {
	return get(s.groups, s.groupByID, id, iam.Group.Clone)
}

// GroupByName returns a copy of the group with the given name.
func (s *State) GroupByName(name string) (iam.Group, bool) {
	return get(s.groups, s.groupByName, name, iam.Group.Clone)
}

// Provider returns a copy of the auth provider with the given id.
func (s *State) Provider(id string) (iam.AuthProvider, bool) {
	return get(s.providers, s.providerByID, id, iam.AuthProvider.Clone)
}

// ProviderByName returns a copy of the auth provider with the given name.
func (s *State) ProviderByName(name string) (iam.AuthProvider, bool) {
	return get(s.providers, s.providerByName, name, iam.AuthProvider.Clone)
}

// Revocations returns a copy of the session revocations: identity -> the
// time before which its sessions are revoked.
func (s *State) Revocations() map[string]time.Time {
	out := make(map[string]time.Time, len(s.revocations))
	for k, v := range s.revocations {
		out[k] = v
	}
	return out
}

// RevokedSince returns the revocation time of identity, if any.
func (s *State) RevokedSince(identity string) (time.Time, bool) {
	t, ok := s.revocations[identity]
	return t, ok
}

// SessionRevoked reports whether a session of identity issued at issuedAt
// is revoked: a revocation exists and the session was issued at or before
// it.
func (s *State) SessionRevoked(identity string, issuedAt time.Time) bool {
	t, ok := s.revocations[identity]
	return ok && !issuedAt.After(t)
}

// sortedIDs returns ids sorted: ids itself when already sorted, else a
// sorted copy. Empty becomes nil.
func sortedIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	if slices.IsSorted(ids) {
		return ids
	}
	return slices.Sorted(slices.Values(ids))
}

func get[T any](items []T, idx map[string]int, k string, clone func(T) T) (T, bool) {
	i, ok := idx[k]
	if !ok {
		var zero T
		return zero, false
	}
	return clone(items[i]), true
}

func cloneAll[T any](items []T, clone func(T) T) []T {
	out := make([]T, len(items))
	for i, v := range items {
		out[i] = clone(v)
	}
	return out
}

func cloneData(d Data) Data {
	out := Data{
		Users:     cloneAll(d.Users, iam.User.Clone),
		Groups:    cloneAll(d.Groups, iam.Group.Clone),
		Providers: cloneAll(d.Providers, iam.AuthProvider.Clone),
	}
	out.Revocations = make(map[string]time.Time, len(d.Revocations))
	for k, v := range d.Revocations {
		out.Revocations[k] = v
	}
	return out
}
