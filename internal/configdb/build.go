package configdb

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// build takes ownership of d (no copy), validates and compiles it. base,
// when not nil, is a valid State that d was derived from (by an Op), or
// any valid State (OpenOn): users and groups that d holds unchanged from
// base are neither validated nor compiled again, and their compiled form
// is shared with base. detach makes the compiled form of the users and
// groups compiled anew hold copies of their strings, not slices of d's
// (decoded strings are slices of the whole payload: a compiled user shared
// with later States must not keep its generation's payload alive).
func build(generation uint64, d Data, base *State) (*State, error) {
	return buildWith(generation, d, base, false)
}

// buildWith is build, detaching the compiled forms when detach is set.
func buildWith(generation uint64, d Data, base *State, detach bool) (*State, error) {
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
	inOrder := sortByName(d.Users, func(u *iam.User) string { return u.Name })
	groupsInOrder := sortByName(d.Groups, func(g *iam.Group) string { return g.Name })
	sortByName(d.Providers, func(p *iam.AuthProvider) string { return p.Name })
	if d.Revocations == nil {
		d.Revocations = map[string]time.Time{}
	}
	s := &State{
		generation:    generation,
		users:         d.Users,
		groups:        d.Groups,
		providers:     d.Providers,
		revocations:   d.Revocations,
		usersInOrder:  inOrder,
		groupsInOrder: groupsInOrder,
	}
	x, same, err := s.validate(base)
	if err != nil {
		return nil, err
	}
	s.indexes = x
	if err := s.compile(base, same, detach); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err) // unreachable after validate
	}
	return s, nil
}

// sortByName sorts items stably by name, unless they already are, and
// reports whether they already were.
func sortByName[T any](items []T, name func(*T) string) bool {
	sorted := true
	for i := 1; i < len(items) && sorted; i++ {
		sorted = name(&items[i-1]) <= name(&items[i])
	}
	if !sorted {
		slices.SortStableFunc(items, func(a, b T) int { return cmp.Compare(name(&a), name(&b)) })
	}
	return sorted
}

// index builds the lookup maps and reports the first duplicate id, name or
// access key. It does not modify s. When s has the users of base (same
// ids, names and access keys at the same positions), base's user maps are
// shared: they are never modified; else they are updated from copies of
// base's (userIndexOn). The group and provider maps are shared likewise
// when both stand where they did in base.
func (s *State) index(base *State) (indexes, error) {
	var x indexes
	if base != nil && sameUserKeys(s.users, base.users) {
		x.userByID, x.userByName, x.userByKey = base.userByID, base.userByName, base.userByKey
	} else if base == nil || !userIndexOn(&x, s.users, base) {
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
	}
	if base != nil && sameIDsAndNames(s.groups, base.groups, groupKeys) &&
		sameIDsAndNames(s.providers, base.providers, providerKeys) {
		// Positions unchanged (base's maps are never modified).
		x.groupByID, x.groupByName = base.groupByID, base.groupByName
		x.providerByID, x.providerByName = base.providerByID, base.providerByName
		return x, nil
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

// sameUserKeys reports whether a and b hold the same ids, names and access
// keys at the same positions.
func sameUserKeys(a, b []iam.User) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Name != b[i].Name || a[i].AccessKeyID != b[i].AccessKeyID {
			return false
		}
	}
	return true
}

// Validate checks the invariants of the State: valid fields and rules;
// unique ids, names and access keys; no dangling group or member ids; and
// membership recorded on both sides (user.group_ids and group.member_ids).
// A State made by NewState, an Op or Open always passes.
func (s *State) Validate() error {
	x, err := s.index(nil)
	if err != nil {
		return err
	}
	return s.check(x)
}

// check is Validate after indexing. It reports the first violation in a
// fixed order: users (own fields, then their groups), groups (own fields,
// then their members), providers, revocations.
func (s *State) check(x indexes) error {
	for i := range s.users {
		u := &s.users[i]
		if err := u.Validate(); err != nil {
			return iam.PrefixError("users["+u.ID+"]", err)
		}
		if err := s.checkUserGroups(x, u); err != nil {
			return err
		}
	}
	for i := range s.groups {
		g := &s.groups[i]
		if err := g.Validate(); err != nil {
			return iam.PrefixError("groups["+g.ID+"]", err)
		}
		for _, uid := range g.MemberIDs {
			if err := s.checkMember(x, g, uid); err != nil {
				return err
			}
		}
	}
	return s.checkRest(x)
}

func (s *State) checkUserGroups(x indexes, u *iam.User) error {
	for _, gid := range u.GroupIDs {
		if err := s.checkUserGroup(x, u, gid); err != nil {
			return err
		}
	}
	return nil
}

func (s *State) checkUserGroup(x indexes, u *iam.User, gid string) error {
	gi, ok := x.groupByID[gid]
	if !ok {
		return fieldErr("users["+u.ID+"].group_ids", "group %q does not exist", gid)
	}
	if !containsID(s.groups[gi].MemberIDs, u.ID) {
		return fieldErr("users["+u.ID+"].group_ids", "group %q does not list the user as a member", gid)
	}
	return nil
}

func (s *State) checkMember(x indexes, g *iam.Group, uid string) error {
	ui, ok := x.userByID[uid]
	if !ok {
		return fieldErr("groups["+g.ID+"].member_ids", "user %q does not exist", uid)
	}
	if !containsID(s.users[ui].GroupIDs, g.ID) {
		return fieldErr("groups["+g.ID+"].member_ids", "user %q does not list the group", uid)
	}
	return nil
}

// checkRest validates providers (the groups of their mappings exist) and
// revocations.
func (s *State) checkRest(x indexes) error {
	for _, p := range s.providers {
		if err := p.Validate(); err != nil {
			return iam.PrefixError(fmt.Sprintf("auth_providers[%s]", p.ID), err)
		}
		for i, m := range p.GroupMappings {
			for _, gid := range m.Groups {
				if _, ok := x.groupByID[gid]; !ok {
					return fieldErr(fmt.Sprintf("auth_providers[%s].group_mappings[%d].groups", p.ID, i), "group %q does not exist", gid)
				}
			}
		}
	}
	for id := range s.revocations {
		if err := validateIdentity(id); err != nil {
			return iam.PrefixError("session_revocations", err)
		}
	}
	return nil
}

// unchanged records which users and groups of a State equal (sameUser,
// sameGroup) those of the same id in the State it was derived from.
type unchanged struct {
	users, groups []bool // aligned with State.users and State.groups; nil without base
}

// validate indexes s and validates it. With a base (a valid State s was
// derived from), it checks only what base does not prove: the own fields
// of changed users and groups, and the memberships a change can break. If
// that finds a violation, the full check runs, so the error is always the
// one Validate reports.
func (s *State) validate(base *State) (indexes, unchanged, error) {
	x, err := s.index(base)
	if err != nil || base == nil {
		if err == nil {
			err = s.check(x)
		}
		return x, unchanged{}, err
	}
	same := s.compare(base)
	if err := s.checkChanged(x, base, same); err != nil {
		if full := s.check(x); full != nil {
			err = full
		}
		return x, same, err
	}
	return x, same, nil
}

// compare finds the users and groups of s equal to those of base.
func (s *State) compare(base *State) unchanged {
	same := unchanged{users: make([]bool, len(s.users)), groups: make([]bool, len(s.groups))}
	off := 0 // base's position minus s's at the last user found (a user added or removed shifts the rest)
	for i := range s.users {
		if j, ok := base.userPos(i+off, s.users[i].ID); ok {
			same.users[i] = sameUser(&s.users[i], &base.users[j])
			off = j - i
		}
	}
	for i := range s.groups {
		if j, ok := base.groupPos(i, s.groups[i].ID); ok {
			same.groups[i] = sameGroup(&s.groups[i], &base.groups[j])
		}
	}
	return same
}

// checkChanged validates s given that base is valid and same says what s
// holds unchanged from base. Whatever it skips, base proves:
//   - an unchanged user or group has valid own fields;
//   - an unchanged user lists an unchanged group, and is listed by it,
//     exactly as in base;
//   - with the same users as base (same ids at the same positions), the
//     members of an unchanged group exist, and the only ones that may no
//     longer list it are changed users that listed it in base.
func (s *State) checkChanged(x indexes, base *State, same unchanged) error {
	groupsSame := len(s.groups) == len(base.groups) && !slices.Contains(same.groups, false)
	usersSame := len(s.users) == len(base.users) && sameUserKeys(s.users, base.users)
	for i := range s.users {
		u := &s.users[i]
		if !same.users[i] {
			if err := u.Validate(); err != nil {
				return iam.PrefixError("users["+u.ID+"]", err)
			}
			if err := s.checkUserGroups(x, u); err != nil {
				return err
			}
			continue
		}
		if groupsSame {
			continue
		}
		for _, gid := range u.GroupIDs {
			if gi, ok := x.groupByID[gid]; ok && same.groups[gi] {
				continue
			}
			if err := s.checkUserGroup(x, u, gid); err != nil {
				return err
			}
		}
	}
	for i := range s.groups {
		g := &s.groups[i]
		if !same.groups[i] {
			if err := g.Validate(); err != nil {
				return iam.PrefixError("groups["+g.ID+"]", err)
			}
		} else if usersSame {
			continue
		}
		for _, uid := range g.MemberIDs {
			if ui, ok := x.userByID[uid]; ok && same.groups[i] && same.users[ui] {
				continue
			}
			if err := s.checkMember(x, g, uid); err != nil {
				return err
			}
		}
	}
	if usersSame {
		for i := range s.users {
			if same.users[i] {
				continue
			}
			for _, gid := range base.users[i].GroupIDs {
				if gi, ok := x.groupByID[gid]; ok && same.groups[gi] {
					if err := s.checkMember(x, &s.groups[gi], s.users[i].ID); err != nil {
						return err
					}
				}
			}
		}
	}
	return s.checkRest(x)
}

// userPos returns the position in s of the user with id, trying position
// hint first (a derived State mostly keeps positions).
func (s *State) userPos(hint int, id string) (int, bool) {
	if hint >= 0 && hint < len(s.users) && s.users[hint].ID == id {
		return hint, true
	}
	i, ok := s.userByID[id]
	return i, ok
}

// groupPos is userPos for groups.
func (s *State) groupPos(hint int, id string) (int, bool) {
	if hint < len(s.groups) && s.groups[hint].ID == id {
		return hint, true
	}
	i, ok := s.groupByID[id]
	return i, ok
}

// sameUser reports whether a and b agree on everything that validation and
// the compiled authorizer read (all but CreatedAt).
func sameUser(a, b *iam.User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.AccessKeyID == b.AccessKeyID &&
		a.SecretAccessKey == b.SecretAccessKey && a.Enabled == b.Enabled &&
		sameRules(a.Permissions, b.Permissions) && slices.Equal(a.GroupIDs, b.GroupIDs)
}

// sameGroup reports whether a and b are equal.
func sameGroup(a, b *iam.Group) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Description == b.Description &&
		sameRules(a.Permissions, b.Permissions) && slices.Equal(a.MemberIDs, b.MemberIDs)
}

// sameRules reports whether a and b hold equal rules in the same order.
func sameRules(a, b []iam.Rule) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] { // shared, and never modified in place
		return true
	}
	for i := range a {
		if a[i].Effect != b[i].Effect || !slices.Equal(a[i].Actions, b[i].Actions) || !slices.Equal(a[i].Resources, b[i].Resources) {
			return false
		}
	}
	return true
}

// parallelCompileMin is the number of users to compile from which the work
// is shared among the CPUs.
const parallelCompileMin = 2048

// compile builds the compiled groups and users of a validated s. A group
// whose rules equal those of base's group of the same id shares its
// compiled form; so does a user unchanged from base (same.users) whose
// groups all share theirs. The rest is compiled, in parallel when large.
func (s *State) compile(base *State, same unchanged, detach bool) error {
	s.compiledGroups = make([]*iam.CompiledGroup, len(s.groups))
	groups := make(map[string]*iam.CompiledGroup, len(s.groups))
	recompiled := false // some group of base is compiled anew
	for i := range s.groups {
		g := &s.groups[i]
		var cg *iam.CompiledGroup
		if base != nil {
			if j, ok := base.groupPos(i, g.ID); ok && sameRules(g.Permissions, base.groups[j].Permissions) {
				cg = base.compiledGroups[j]
			}
		}
		if cg == nil {
			var err error
			in := *g
			if detach {
				in = detachGroup(in)
			}
			if cg, err = iam.CompileGroup(in); err != nil {
				return err
			}
			recompiled = true
		}
		s.compiledGroups[i], groups[g.ID] = cg, cg
	}
	s.compiledUsers = make([]*iam.CompiledUser, len(s.users))
	var todo []int // positions of the users to compile
	off := 0       // as in compare
	for i := range s.users {
		if same.users != nil && same.users[i] {
			j, _ := base.userPos(i+off, s.users[i].ID)
			off = j - i
			if !recompiled || sharesGroups(s.users[i].GroupIDs, groups, base, j) {
				s.compiledUsers[i] = base.compiledUsers[j]
				continue
			}
		}
		todo = append(todo, i)
	}
	if err := s.compileUsers(todo, groups, detach); err != nil {
		return err
	}
	s.auth = &lazyAuthorizer{}
	return nil
}

// sharesGroups reports whether every group of a user (base.users[j]'s,
// the same ids) is compiled as it was in base.
func sharesGroups(gids []string, groups map[string]*iam.CompiledGroup, base *State, j int) bool {
	for _, gid := range gids {
		if groups[gid] != base.compiledGroups[base.groupByID[gid]] {
			return false
		}
	}
	return true
}

// compileUsers compiles the users at positions todo into s.compiledUsers,
// splitting a large batch among the CPUs. It returns the error of the
// first failing position.
func (s *State) compileUsers(todo []int, groups map[string]*iam.CompiledGroup, detach bool) error {
	workers := min(runtime.GOMAXPROCS(0), 4, len(todo)/(parallelCompileMin/2))
	if workers <= 1 {
		return s.compileRange(todo, groups, detach)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	per := (len(todo) + workers - 1) / workers
	for w := range workers {
		part := todo[min(w*per, len(todo)):min((w+1)*per, len(todo))]
		wg.Go(func() { errs[w] = s.compileRange(part, groups, detach) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *State) compileRange(todo []int, groups map[string]*iam.CompiledGroup, detach bool) error {
	compile := func(u iam.User) (*iam.CompiledUser, error) { return iam.CompileUser(u, groups) }
	if len(todo) >= blockCompileMin {
		compile = iam.NewUserCompiler(groups).Compile // one per goroutine
	}
	for _, i := range todo {
		u := s.users[i]
		if detach {
			u = detachUser(u)
		}
		cu, err := compile(u)
		if err != nil {
			return err
		}
		s.compiledUsers[i] = cu
	}
	return nil
}

// blockCompileMin is the number of users to compile from which shared
// blocks (iam.UserCompiler) pay off; an Op compiles one or a few users,
// which then do not keep a block in memory.
const blockCompileMin = 64

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

// detachUser returns u with copies of the strings the compiled form keeps.
func detachUser(u iam.User) iam.User {
	u.ID, u.Name = strings.Clone(u.ID), strings.Clone(u.Name)
	u.AccessKeyID, u.SecretAccessKey = strings.Clone(u.AccessKeyID), strings.Clone(u.SecretAccessKey)
	u.Permissions = detachRules(u.Permissions)
	return u
}

// detachGroup is detachUser for a group.
func detachGroup(g iam.Group) iam.Group {
	g.ID = strings.Clone(g.ID)
	g.Permissions = detachRules(g.Permissions)
	return g
}

func detachRules(rules []iam.Rule) []iam.Rule {
	if len(rules) == 0 {
		return rules
	}
	out := make([]iam.Rule, len(rules))
	for i, r := range rules {
		out[i] = r
		if len(r.Resources) == 0 {
			continue // nil or empty, as decoded
		}
		out[i].Resources = make([]string, len(r.Resources))
		for j, res := range r.Resources {
			out[i].Resources[j] = strings.Clone(res)
		}
	}
	return out
}
