package declarative

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// ErrWouldDeleteAllUsers: the declared IAM keeps none of the existing
// users (an empty list, or only new names) and AllowEmpty is not set. A
// broken or misplaced file must not lock everyone out; set
// access.iam_allow_empty: true for a reconcile that is meant to do that.
var ErrWouldDeleteAllUsers = errors.New("the declared IAM would delete every existing user")

// Reconcile is the configdb.Op that makes a State hold exactly the Desired
// IAM: entities are matched by name; existing ones keep their id and
// creation time (and, for users declared without keys, their keys); new
// ones get the ids and keys chosen by NewReconcile, so applying the same
// Reconcile twice, or to a rebased State, gives the same result. Entities
// not declared are deleted; session revocations are kept. When the State
// already matches, Apply returns it unchanged (the same pointer), so a
// publisher writes nothing.
type Reconcile struct {
	Desired Desired
}

var _ configdb.Op = (*Reconcile)(nil)

// NewReconcile validates d and returns the Op that reconciles to it, with
// ids (and key pairs for users declared without keys) chosen now. d is
// copied.
func NewReconcile(d Desired) (*Reconcile, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	c := Desired{AllowEmpty: d.AllowEmpty}
	for _, g := range d.Groups {
		g.Permissions = iam.CloneRules(g.Permissions)
		g.ID = iam.NewID()
		c.Groups = append(c.Groups, g)
	}
	for _, u := range d.Users {
		u.Groups = append([]string(nil), u.Groups...)
		u.Permissions = iam.CloneRules(u.Permissions)
		u.ID = iam.NewID()
		if u.AccessKeyID == "" {
			u.AccessKeyID, u.SecretAccessKey, u.KeysGenerated = iam.NewAccessKeyID(), iam.NewSecretAccessKey(), true
		}
		c.Users = append(c.Users, u)
	}
	for _, p := range d.Providers {
		p = p.Clone()
		p.ID = iam.NewID()
		c.Providers = append(c.Providers, p)
	}
	return &Reconcile{Desired: c}, nil
}

// Apply implements configdb.Op. Errors: ErrWouldDeleteAllUsers, and
// validation errors (iam.ErrInvalid, naming the field) when the result
// would not be a valid State.
func (r *Reconcile) Apply(s *configdb.State, now time.Time) (*configdb.State, error) {
	d := r.Desired
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if !d.AllowEmpty && s.NumUsers() > 0 {
		kept := 0
		for _, u := range d.Users {
			if _, ok := s.UserByName(u.Name); ok {
				kept++
			}
		}
		if kept == 0 {
			return nil, fmt.Errorf("%w (%d users now, none of them declared); set access.iam_allow_empty: true "+
				"if that is intended, or add the new users first and remove the old ones in a later change",
				ErrWouldDeleteAllUsers, s.NumUsers())
		}
	}

	data := configdb.Data{Revocations: s.Revocations()}
	groupID := make(map[string]string, len(d.Groups))
	for _, g := range d.Groups {
		id := g.ID
		if cur, ok := s.GroupByName(g.Name); ok {
			id = cur.ID
		}
		groupID[g.Name] = id
		data.Groups = append(data.Groups, iam.Group{
			ID: id, Name: g.Name, Description: g.Description, Permissions: iam.CloneRules(g.Permissions),
		})
	}
	members := make(map[string][]string, len(d.Groups))
	for _, u := range d.Users {
		nu := iam.User{
			ID: u.ID, Name: u.Name, AccessKeyID: u.AccessKeyID, SecretAccessKey: u.SecretAccessKey,
			Enabled: u.Enabled, CreatedAt: now.UTC(), Permissions: iam.CloneRules(u.Permissions),
		}
		if cur, ok := s.UserByName(u.Name); ok {
			nu.ID, nu.CreatedAt = cur.ID, cur.CreatedAt
			if u.KeysGenerated {
				nu.AccessKeyID, nu.SecretAccessKey = cur.AccessKeyID, cur.SecretAccessKey
			}
		}
		for _, g := range u.Groups {
			nu.GroupIDs = append(nu.GroupIDs, groupID[g])
			members[g] = append(members[g], nu.ID)
		}
		data.Users = append(data.Users, nu)
	}
	for i := range data.Groups {
		data.Groups[i].MemberIDs = members[data.Groups[i].Name]
	}
	for _, p := range d.Providers {
		np := p.Clone()
		if cur, ok := s.ProviderByName(p.Name); ok {
			np.ID = cur.ID
		}
		for i := range np.GroupMappings {
			ids := np.GroupMappings[i].Groups
			for j, g := range ids {
				ids[j] = groupID[g] // declared names to ids
			}
		}
		data.Providers = append(data.Providers, np)
	}

	next, err := configdb.NewState(s.Generation(), data)
	if err != nil {
		return nil, fmt.Errorf("declarative iam: %w", err)
	}
	if Diff(s, next).Empty() && sameIDs(s, next) {
		return s, nil
	}
	return next, nil
}

// sameIDs reports whether a and b give every entity the same id (Diff
// compares by name; ids are kept by name, so this only guards the rule
// that an unchanged State is returned as is).
func sameIDs(a, b *configdb.State) bool {
	au, bu := a.Users(), b.Users()
	ag, bg := a.Groups(), b.Groups()
	ap, bp := a.Providers(), b.Providers()
	if len(au) != len(bu) || len(ag) != len(bg) || len(ap) != len(bp) {
		return false
	}
	for i := range au {
		if au[i].ID != bu[i].ID || !au[i].CreatedAt.Equal(bu[i].CreatedAt) {
			return false
		}
	}
	for i := range ag {
		if ag[i].ID != bg[i].ID {
			return false
		}
	}
	for i := range ap {
		if ap[i].ID != bp[i].ID {
			return false
		}
	}
	return true
}

// Describe implements configdb.Op. It names counts only, never secrets.
func (r *Reconcile) Describe() string {
	return fmt.Sprintf("declarative reconcile (%d users, %d groups, %d auth providers)",
		len(r.Desired.Users), len(r.Desired.Groups), len(r.Desired.Providers))
}
