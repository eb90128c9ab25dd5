package configdb

import (
	"fmt"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// CreateGroup creates a group. NewCreateGroup chooses the id.
type CreateGroup struct {
	ID          string
	Name        string
	Description string
	Permissions []iam.Rule
	MemberIDs   []string
}

// NewCreateGroup returns a CreateGroup with a fresh random id.
func NewCreateGroup(name, description string, permissions []iam.Rule, memberIDs []string) *CreateGroup {
	return &CreateGroup{
		ID: iam.NewID(), Name: name, Description: description,
		Permissions: iam.CloneRules(permissions), MemberIDs: slices.Clone(memberIDs),
	}
}

// Apply implements Op. Applying it to a State that already holds this very
// group (same id and name) is a no-op.
func (o *CreateGroup) Apply(s *State, _ time.Time) (*State, error) {
	g := iam.Group{ID: o.ID, Name: o.Name, Description: o.Description, Permissions: iam.CloneRules(o.Permissions)}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if i, ok := s.groupByID[o.ID]; ok {
		if s.groups[i].Name == o.Name {
			return s, nil
		}
		return nil, fmt.Errorf("group id %q is taken: %w", o.ID, ErrConflict)
	}
	if _, ok := s.groupByName[o.Name]; ok {
		return nil, fmt.Errorf("group name %q is taken: %w", o.Name, ErrConflict)
	}
	if err := checkIDs("member_ids", "user", o.MemberIDs, s.userByID); err != nil {
		return nil, err
	}
	d := newDraft(s)
	d.Groups = append(d.Groups, g)
	gi := len(d.Groups) - 1
	for _, uid := range o.MemberIDs {
		d.setMember(s.userByID[uid], gi, true)
	}
	return d.finish()
}

// Describe implements Op.
func (o *CreateGroup) Describe() string {
	return fmt.Sprintf("create group %q (id %s)", o.Name, o.ID)
}

// UpdateGroup changes the fields of group ID that are non-nil. MemberIDs
// replaces the member list (the users' group lists follow).
type UpdateGroup struct {
	ID          string
	Name        *string
	Description *string
	Permissions *[]iam.Rule
	MemberIDs   *[]string
}

// Apply implements Op.
func (o *UpdateGroup) Apply(s *State, _ time.Time) (*State, error) {
	d := newDraft(s)
	gi, err := d.group(o.ID)
	if err != nil {
		return nil, err
	}
	g := d.Groups[gi]
	if o.Name != nil && *o.Name != g.Name {
		if err := iam.ValidateName(*o.Name); err != nil {
			return nil, iam.PrefixError("name", err)
		}
		if _, taken := s.groupByName[*o.Name]; taken {
			return nil, fmt.Errorf("group name %q is taken: %w", *o.Name, ErrConflict)
		}
		g.Name = *o.Name
	}
	if o.Description != nil {
		g.Description = *o.Description
	}
	if o.Permissions != nil {
		if err := iam.ValidateRules(*o.Permissions); err != nil {
			return nil, iam.PrefixError("permissions", err)
		}
		g.Permissions = iam.CloneRules(*o.Permissions)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	d.Groups[gi] = g
	if o.MemberIDs != nil {
		want := *o.MemberIDs
		if err := checkIDs("member_ids", "user", want, s.userByID); err != nil {
			return nil, err
		}
		for _, uid := range g.MemberIDs {
			if !slices.Contains(want, uid) {
				d.setMember(s.userByID[uid], gi, false)
			}
		}
		for _, uid := range want {
			d.setMember(s.userByID[uid], gi, true)
		}
	}
	return d.finish()
}

// Describe implements Op.
func (o *UpdateGroup) Describe() string {
	var f fieldList
	f.add("name", o.Name != nil)
	f.add("description", o.Description != nil)
	f.add("permissions", o.Permissions != nil)
	f.add("member_ids", o.MemberIDs != nil)
	return "update group " + o.ID + f.String()
}

// DeleteGroup deletes group ID; its members stay, without the group. The
// auth providers' group mappings lose it too: a mapping rule left without
// any group is removed.
type DeleteGroup struct {
	ID string
}

// Apply implements Op.
func (o *DeleteGroup) Apply(s *State, _ time.Time) (*State, error) {
	d := newDraft(s)
	gi, err := d.group(o.ID)
	if err != nil {
		return nil, err
	}
	for _, uid := range d.Groups[gi].MemberIDs {
		d.setMember(s.userByID[uid], gi, false)
	}
	d.Groups = slices.Delete(d.Groups, gi, gi+1)
	for i := range d.Providers {
		if ms, changed := mappingsWithoutGroup(d.Providers[i].GroupMappings, o.ID); changed {
			d.Providers[i].GroupMappings = ms
		}
	}
	return d.finish()
}

// mappingsWithoutGroup returns ms without group id gid, dropping the rules
// left without a group, and whether anything changed. ms is not modified.
func mappingsWithoutGroup(ms []iam.GroupMapping, gid string) ([]iam.GroupMapping, bool) {
	if !slices.ContainsFunc(ms, func(m iam.GroupMapping) bool { return slices.Contains(m.Groups, gid) }) {
		return ms, false
	}
	var out []iam.GroupMapping
	for _, m := range ms {
		m = m.Clone()
		m.Groups = slices.DeleteFunc(m.Groups, func(g string) bool { return g == gid })
		if len(m.Groups) > 0 {
			out = append(out, m)
		}
	}
	return out, true
}

// Describe implements Op.
func (o *DeleteGroup) Describe() string { return "delete group " + o.ID }

// AddMember makes user UserID a member of group GroupID. Adding an existing
// member is a no-op.
type AddMember struct {
	GroupID string
	UserID  string
}

// Apply implements Op.
func (o *AddMember) Apply(s *State, _ time.Time) (*State, error) {
	return setMembership(s, o.GroupID, o.UserID, true)
}

// Describe implements Op.
func (o *AddMember) Describe() string {
	return fmt.Sprintf("add user %s to group %s", o.UserID, o.GroupID)
}

// RemoveMember removes user UserID from group GroupID. Removing a user that
// is not a member is a no-op; both must exist.
type RemoveMember struct {
	GroupID string
	UserID  string
}

// Apply implements Op.
func (o *RemoveMember) Apply(s *State, _ time.Time) (*State, error) {
	return setMembership(s, o.GroupID, o.UserID, false)
}

// Describe implements Op.
func (o *RemoveMember) Describe() string {
	return fmt.Sprintf("remove user %s from group %s", o.UserID, o.GroupID)
}

func setMembership(s *State, groupID, userID string, member bool) (*State, error) {
	d := newDraft(s)
	gi, err := d.group(groupID)
	if err != nil {
		return nil, err
	}
	ui, err := d.user(userID)
	if err != nil {
		return nil, err
	}
	if slices.Contains(d.Groups[gi].MemberIDs, userID) == member {
		return s, nil
	}
	d.setMember(ui, gi, member)
	return d.finish()
}
