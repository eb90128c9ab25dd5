package admin

import (
	"reflect"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// Revocation identities that are not the identity of a session: a
// revocation of one of them ends the sessions that depend on it.
const (
	// identityGroupPrefix + group id: the OIDC sessions whose mapped
	// groups include that group (recorded when its rules can take admin
	// away from them).
	identityGroupPrefix = "group:"
	// identityEveryone: every session of every identity (sign-out
	// everywhere for everyone).
	identityEveryone = "*"
)

// clockSkewMargin is how far apart the clocks of a fleet's instances may be
// for revocation pruning: a revocation is kept for the session TTL plus
// this margin (see retain).
const clockSkewMargin = 5 * time.Minute

// retain is how long a revocation must be kept: until every session it
// can match has expired on every instance.
func (a *API) retain() time.Duration { return RevocationRetain(a.ttl) }

// RevocationRetain is how long a revocation must be kept for sessions that
// last sessionTTL (0: DefaultSessionTTL): the TTL plus a clock-skew
// margin, after which every session it can match has expired on every
// instance. Changes prune revocations older than that, and the config sync
// does not carry them back (configsync.Options.RevocationRetain).
func RevocationRetain(sessionTTL time.Duration) time.Duration {
	if sessionTTL <= 0 {
		sessionTTL = DefaultSessionTTL
	}
	return sessionTTL + clockSkewMargin
}

// RevokingOp returns op extended as the admin API publishes every change:
// applying it also records, in the same change, a revocation for every
// admin session the change ends (see docs/security.md), pruning the
// revocations older than sessionTTL (0: DefaultSessionTTL) plus a
// clock-skew margin. For changes published outside the API (declarative
// reconciles), so that re-enabling a user in the config file does not
// revive its old sessions either.
func RevokingOp(op configdb.Op, sessionTTL time.Duration) configdb.Op {
	return &revokingOp{op: op, retain: RevocationRetain(sessionTTL)}
}

// revokingOp applies op and, in the same change, records a revocation for
// every session the change ends (see endedSessions), so that undoing the
// change later (re-enabling the user, giving admin back) does not revive
// them. Computed at Apply, it follows a rebase onto a newer base.
type revokingOp struct {
	op     configdb.Op
	retain time.Duration
}

var _ configdb.Op = (*revokingOp)(nil)

// Apply implements configdb.Op.
func (o *revokingOp) Apply(s *configdb.State, now time.Time) (*configdb.State, error) {
	next, err := o.op.Apply(s, now)
	if err != nil || next == s {
		return next, err
	}
	ids := endedSessions(o.op, s, next)
	if len(ids) == 0 {
		return next, nil
	}
	return (&configdb.RevokeSessions{Identity: ids[0], More: ids[1:], Since: now, Retain: o.retain}).Apply(next, now)
}

// Describe implements configdb.Op.
func (o *revokingOp) Describe() string { return o.op.Describe() }

// endedSessions returns, sorted, the revocation identities of the sessions
// that the change from base to next ends:
//   - "user:<id>" for every user that could sign in to the admin API in
//     base (enabled, admin) and cannot in next (deleted, disabled, admin
//     removed by its own rules, a group's rules or its memberships), or
//     whose access key changed (rotation);
//   - "group:<id>" for every group whose rules can take admin away from
//     the OIDC sessions mapped to it: its Allow admin rule is gone (or the
//     group deleted), or it gained a Deny admin rule;
//   - "oidc:<provider id>" for every enabled provider that is disabled or
//     deleted, or whose sign-in changed (see signInChanged): the groups of
//     its sessions were mapped under the old settings.
//
// op, the change, narrows the users looked at (see userCandidates).
func endedSessions(op configdb.Op, base, next *configdb.State) []string {
	var ids []string
	bx, nx := newAdminIndex(base), newAdminIndex(next)
	check := func(u iam.User, v iam.User, found bool) {
		if !u.Enabled || !bx.user(u) {
			return
		}
		if !found || !v.Enabled || !nx.user(v) || v.AccessKeyID != u.AccessKeyID {
			ids = append(ids, identityUserPrefix+u.ID)
		}
	}
	if cands, all := userCandidates(op, bx, nx); all {
		nextUsers := make(map[string]iam.User, next.NumUsers())
		for _, v := range next.Users() {
			nextUsers[v.ID] = v
		}
		for _, u := range base.Users() {
			v, found := nextUsers[u.ID]
			check(u, v, found)
		}
	} else {
		for _, id := range cands {
			if u, ok := base.User(id); ok {
				v, found := next.User(id)
				check(u, v, found)
			}
		}
	}
	for id, g := range bx.groups {
		if g.weakens(nx.groups[id].adminFlags) { // a deleted group has zero flags
			ids = append(ids, identityGroupPrefix+id)
		}
	}
	for _, p := range base.Providers() {
		if !p.Enabled {
			continue
		}
		if q, ok := next.Provider(p.ID); !ok || !q.Enabled || signInChanged(p, q) {
			ids = append(ids, identityOIDCPrefix+p.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// signInChanged reports whether q differs from p in anything but the
// fields that cannot change whom a sign-in maps to which groups (name,
// display name, priority, client secret). Fields added later count as a
// change until listed here.
func signInChanged(p, q iam.AuthProvider) bool {
	q.Name, q.DisplayName, q.Priority, q.ClientSecret = p.Name, p.DisplayName, p.Priority, p.ClientSecret
	return !reflect.DeepEqual(p, q)
}

// userCandidates returns the ids of the users whose admin standing or
// access key the change op (from the State indexed by bx to the one
// indexed by nx) may have changed: the users op names, and the members
// (before and after) of every group whose admin rules or members changed.
// all is true when op is of a kind not listed here: then every user is
// looked at. It spares a mutation of a large DB from comparing every user.
func userCandidates(op configdb.Op, bx, nx adminIndex) (ids []string, all bool) {
	switch o := op.(type) {
	case *configdb.UpdateUser:
		ids = append(ids, o.ID)
	case *configdb.DeleteUser:
		ids = append(ids, o.ID)
	case *configdb.RotateKeys:
		ids = append(ids, o.UserID)
	case *configdb.AddMember:
		ids = append(ids, o.UserID)
	case *configdb.RemoveMember:
		ids = append(ids, o.UserID)
	case *configdb.CreateUser, *configdb.CreateGroup, *configdb.UpdateGroup, *configdb.DeleteGroup,
		*configdb.CreateProvider, *configdb.UpdateProvider, *configdb.DeleteProvider, *configdb.RevokeSessions:
	default:
		return nil, true
	}
	for id, b := range bx.groups {
		n, ok := nx.groups[id]
		if !ok || b.adminFlags != n.adminFlags || !slices.Equal(b.members, n.members) {
			ids = append(append(ids, b.members...), n.members...)
		}
	}
	for id, n := range nx.groups {
		if _, ok := bx.groups[id]; !ok {
			ids = append(ids, n.members...)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), false
}

// adminFlags says whether a set of rules holds an Allow, and a Deny, rule
// with action admin (or *) on resource "*".
type adminFlags struct{ allow, deny bool }

func (f adminFlags) grants() bool { return f.allow && !f.deny }

// weakens reports whether going from f to g can take admin away from a
// set of rules that includes them: an Allow lost or a Deny gained.
func (f adminFlags) weakens(g adminFlags) bool { return (f.allow && !g.allow) || (!f.deny && g.deny) }

func (f adminFlags) with(g adminFlags) adminFlags {
	return adminFlags{allow: f.allow || g.allow, deny: f.deny || g.deny}
}

func rulesAdminFlags(rules []iam.Rule) adminFlags {
	var f adminFlags
	for _, r := range rules {
		if !slices.Contains(r.Resources, "*") ||
			!(slices.Contains(r.Actions, iam.ActionAdmin) || slices.Contains(r.Actions, iam.ActionAll)) {
			continue
		}
		switch r.Effect {
		case iam.EffectDeny:
			f.deny = true
		case iam.EffectAllow:
			f.allow = true
		}
	}
	return f
}

// adminIndex answers isAdmin for every user of a State without looking
// each group up again.
type adminIndex struct{ groups map[string]groupEntry }

// groupEntry is what adminIndex keeps of a group.
type groupEntry struct {
	adminFlags
	members []string
}

func newAdminIndex(st *configdb.State) adminIndex {
	x := adminIndex{groups: make(map[string]groupEntry)}
	for _, g := range st.Groups() {
		x.groups[g.ID] = groupEntry{adminFlags: rulesAdminFlags(g.Permissions), members: g.MemberIDs}
	}
	return x
}

// user is isAdmin(st, u) for the State the index was built from.
func (x adminIndex) user(u iam.User) bool {
	f := rulesAdminFlags(u.Permissions)
	for _, gid := range u.GroupIDs {
		f = f.with(x.groups[gid].adminFlags)
	}
	return f.grants()
}
