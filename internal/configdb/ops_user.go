package configdb

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// CreateUser creates a user. NewCreateUser chooses the id and the key pair;
// callers read them back from the Op (e.g. to show the secret once).
type CreateUser struct {
	ID              string
	Name            string
	AccessKeyID     string
	SecretAccessKey string
	Enabled         bool
	Permissions     []iam.Rule
	GroupIDs        []string
}

// NewCreateUser returns a CreateUser with a fresh random id, access key id
// and secret access key.
func NewCreateUser(name string, enabled bool, permissions []iam.Rule, groupIDs []string) *CreateUser {
	return &CreateUser{
		ID:              iam.NewID(),
		Name:            name,
		AccessKeyID:     iam.NewAccessKeyID(),
		SecretAccessKey: iam.NewSecretAccessKey(),
		Enabled:         enabled,
		Permissions:     iam.CloneRules(permissions),
		GroupIDs:        slices.Clone(groupIDs),
	}
}

// Apply implements Op. The user's CreatedAt is now. Applying the Op to a
// State that already holds this very user (same id, name and keys) is a
// no-op, so a retried publish does not fail on its own earlier success.
func (o *CreateUser) Apply(s *State, now time.Time) (*State, error) {
	u := iam.User{
		ID: o.ID, Name: o.Name, AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey,
		Enabled: o.Enabled, CreatedAt: now.UTC(), Permissions: iam.CloneRules(o.Permissions),
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if i, ok := s.userByID[o.ID]; ok {
		if cur := s.users[i]; cur.Name == o.Name && cur.AccessKeyID == o.AccessKeyID && cur.SecretAccessKey == o.SecretAccessKey {
			return s, nil
		}
		return nil, fmt.Errorf("user id %q is taken: %w", o.ID, ErrConflict)
	}
	if _, ok := s.userByName[o.Name]; ok {
		return nil, fmt.Errorf("user name %q is taken: %w", o.Name, ErrConflict)
	}
	if _, ok := s.userByKey[o.AccessKeyID]; ok {
		return nil, fmt.Errorf("access key id is taken: %w", ErrConflict)
	}
	if err := checkIDs("group_ids", "group", o.GroupIDs, s.groupByID); err != nil {
		return nil, err
	}
	d := newDraft(s)
	d.Users = append(d.Users, u)
	ui := len(d.Users) - 1
	for _, gid := range o.GroupIDs {
		d.setMember(ui, s.groupByID[gid], true)
	}
	return d.finish()
}

// Describe implements Op.
func (o *CreateUser) Describe() string {
	return fmt.Sprintf("create user %q (id %s)", o.Name, o.ID)
}

// UpdateUser changes the fields of user ID that are non-nil. GroupIDs
// replaces the user's memberships (the groups' member lists follow).
type UpdateUser struct {
	ID          string
	Name        *string
	Enabled     *bool
	Permissions *[]iam.Rule
	GroupIDs    *[]string
}

// Apply implements Op.
func (o *UpdateUser) Apply(s *State, _ time.Time) (*State, error) {
	d := newDraft(s)
	ui, err := d.user(o.ID)
	if err != nil {
		return nil, err
	}
	u := d.Users[ui]
	if o.Name != nil && *o.Name != u.Name {
		if err := iam.ValidateName(*o.Name); err != nil {
			return nil, iam.PrefixError("name", err)
		}
		if _, taken := s.userByName[*o.Name]; taken {
			return nil, fmt.Errorf("user name %q is taken: %w", *o.Name, ErrConflict)
		}
		u.Name = *o.Name
	}
	if o.Enabled != nil {
		u.Enabled = *o.Enabled
	}
	if o.Permissions != nil {
		if err := iam.ValidateRules(*o.Permissions); err != nil {
			return nil, iam.PrefixError("permissions", err)
		}
		u.Permissions = iam.CloneRules(*o.Permissions)
	}
	d.Users[ui] = u
	if o.GroupIDs != nil {
		want := *o.GroupIDs
		if err := checkIDs("group_ids", "group", want, s.groupByID); err != nil {
			return nil, err
		}
		for _, gid := range u.GroupIDs {
			if !slices.Contains(want, gid) {
				d.setMember(ui, s.groupByID[gid], false)
			}
		}
		for _, gid := range want {
			d.setMember(ui, s.groupByID[gid], true)
		}
	}
	return d.finish()
}

// Describe implements Op.
func (o *UpdateUser) Describe() string {
	var f fieldList
	f.add("name", o.Name != nil)
	f.add("enabled", o.Enabled != nil)
	f.add("permissions", o.Permissions != nil)
	f.add("group_ids", o.GroupIDs != nil)
	return "update user " + o.ID + f.String()
}

// fieldList collects the names of the fields an update sets, for Describe.
type fieldList []string

func (f *fieldList) add(name string, set bool) {
	if set {
		*f = append(*f, name)
	}
}

// String renders " (a, b)", or " (no changes)".
func (f fieldList) String() string {
	if len(f) == 0 {
		return " (no changes)"
	}
	return " (" + strings.Join(f, ", ") + ")"
}

// DeleteUser deletes user ID and removes it from its groups.
type DeleteUser struct {
	ID string
}

// Apply implements Op.
func (o *DeleteUser) Apply(s *State, _ time.Time) (*State, error) {
	d := newDraft(s)
	ui, err := d.user(o.ID)
	if err != nil {
		return nil, err
	}
	for _, gid := range d.Users[ui].GroupIDs {
		d.setMember(ui, s.groupByID[gid], false)
	}
	d.Users = slices.Delete(d.Users, ui, ui+1)
	return d.finish()
}

// Describe implements Op.
func (o *DeleteUser) Describe() string { return "delete user " + o.ID }

// RotateKeys replaces the key pair of user UserID. NewRotateKeys chooses the
// new pair; callers read it back from the Op.
type RotateKeys struct {
	UserID          string
	AccessKeyID     string
	SecretAccessKey string
}

// NewRotateKeys returns a RotateKeys with a fresh random key pair.
func NewRotateKeys(userID string) *RotateKeys {
	return &RotateKeys{UserID: userID, AccessKeyID: iam.NewAccessKeyID(), SecretAccessKey: iam.NewSecretAccessKey()}
}

// Apply implements Op. Applying it to a State where the user already holds
// this very pair is a no-op.
func (o *RotateKeys) Apply(s *State, _ time.Time) (*State, error) {
	if err := iam.ValidateAccessKeyID(o.AccessKeyID); err != nil {
		return nil, iam.PrefixError("access_key_id", err)
	}
	if err := iam.ValidateSecretAccessKey(o.SecretAccessKey); err != nil {
		return nil, iam.PrefixError("secret_access_key", err)
	}
	d := newDraft(s)
	ui, err := d.user(o.UserID)
	if err != nil {
		return nil, err
	}
	u := d.Users[ui]
	if u.AccessKeyID == o.AccessKeyID && u.SecretAccessKey == o.SecretAccessKey {
		return s, nil
	}
	if owner, taken := s.userByKey[o.AccessKeyID]; taken && owner != ui {
		return nil, fmt.Errorf("access key id is taken: %w", ErrConflict)
	}
	u.AccessKeyID, u.SecretAccessKey = o.AccessKeyID, o.SecretAccessKey
	d.Users[ui] = u
	return d.finish()
}

// Describe implements Op.
func (o *RotateKeys) Describe() string { return "rotate keys of user " + o.UserID }
