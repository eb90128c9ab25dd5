// Package configdb is dgp's configuration database: an immutable State
// snapshot of IAM users, groups, auth providers and session revocations;
// Ops that derive a new State from any base (so a publisher can rebase);
// the sealed (encrypted, authenticated) file format with schema versions and
// migrations; atomic local persistence; and the Store that S3 requests read
// the current snapshot from without locks.
package configdb

import (
	"errors"
	"slices"
	"sync"
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

// CurrentSchema is the newest schema version of the State this binary
// writes and reads (it also reads a newer one whose min_reader_schema is at
// most this, see Header.Newer). Schema 2 stores group membership on the
// users only (User.GroupIDs); Group.MemberIDs is derived when a DB is
// opened (schema 1 stored both sides). Schema 3 adds the auth providers'
// redirect_url and group_mappings; it is additive (min_reader_schema 2).
const CurrentSchema = 3

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
	auth *lazyAuthorizer // shared by WithGeneration copies
	// The compiled users and groups, aligned with users and groups: a State
	// derived from this one reuses those whose input did not change.
	compiledUsers  []*iam.CompiledUser
	compiledGroups []*iam.CompiledGroup
	// raw are the JSON texts of users and groups when s was opened from a
	// sealed DB whose users or groups were in order (nil otherwise): see
	// decodeOn.
	raw *rawTexts
	// usersInOrder and groupsInOrder say build found the users (groups)
	// sorted already (positions in the input are positions in users).
	usersInOrder, groupsInOrder bool
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
	s, _ := build(0, Data{}, nil) // cannot fail: nothing to validate
	return s
}

// NewState validates d (see Validate) and returns it as a State at the given
// generation. d is deep-copied; the caller may reuse it. Membership lists are
// sorted; entities are ordered by name.
func NewState(generation uint64, d Data) (*State, error) {
	return build(generation, cloneData(d), nil)
}

// Generation returns the generation of the snapshot (0 for a fresh DB). The
// publisher sets it (WithGeneration); Ops do not change it.
func (s *State) Generation() uint64 { return s.generation }

// Schema returns the schema version of the content: always CurrentSchema,
// since older schemas are migrated when read (and a newer readable one is
// decoded as CurrentSchema). The schema a DB is sealed in is the Header's.
func (s *State) Schema() int { return CurrentSchema }

// WithGeneration returns a copy of s at generation g, sharing the immutable
// content and the compiled authorizer.
func (s *State) WithGeneration(g uint64) *State {
	c := *s
	c.generation = g
	return &c
}

// lazyAuthorizer is the iam.Authorizer of a State, built on first use:
// Lookup does not need it (the State's indexes and compiled users answer),
// so building a State does not pay for its maps.
type lazyAuthorizer struct {
	once sync.Once
	auth *iam.Authorizer
}

// Authorizer returns the compiled IAM authorizer of the snapshot.
func (s *State) Authorizer() *iam.Authorizer {
	s.auth.once.Do(func() {
		// Cannot fail: ids and access keys were checked unique.
		s.auth.auth, _ = iam.NewAuthorizer(s.compiledUsers)
	})
	return s.auth.auth
}

// Lookup returns the enabled user holding accessKeyID, compiled for
// authorization (the same answer as Authorizer().Lookup). Disabled users
// are not returned, so their keys authenticate nothing.
func (s *State) Lookup(accessKeyID string) (*iam.CompiledUser, bool) {
	i, ok := s.userByKey[accessKeyID]
	if !ok || !s.compiledUsers[i].Enabled() {
		return nil, false
	}
	return s.compiledUsers[i], true
}

// Data returns a deep copy of the content.
func (s *State) Data() Data {
	return cloneData(Data{Users: s.users, Groups: s.groups, Providers: s.providers, Revocations: s.revocations})
}

// Users returns a copy of all users, ordered by name.
func (s *State) Users() []iam.User { return cloneAll(s.users, iam.User.Clone) }

// UsersPage calls f, in name order, for the users whose name sorts after
// after ("" = from the first), until f returns false. f gets the stored
// user without a copy: it must neither modify nor keep it (clone what it
// keeps). A page of a large DB costs what the page holds, not the DB.
func (s *State) UsersPage(after string, f func(u *iam.User) bool) {
	i := 0
	if after != "" {
		i, _ = slices.BinarySearchFunc(s.users, after, func(u iam.User, name string) int {
			if u.Name <= name {
				return -1
			}
			return 1
		})
	}
	for ; i < len(s.users); i++ {
		if !f(&s.users[i]) {
			return
		}
	}
}

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
