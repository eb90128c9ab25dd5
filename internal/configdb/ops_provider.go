package configdb

import (
	"fmt"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// CreateProvider creates an auth provider. NewCreateProvider chooses the id.
type CreateProvider struct {
	Provider iam.AuthProvider
}

// NewCreateProvider returns a CreateProvider for p with a fresh random id
// (any id in p is replaced).
func NewCreateProvider(p iam.AuthProvider) *CreateProvider {
	p = p.Clone()
	p.ID = iam.NewID()
	return &CreateProvider{Provider: p}
}

// Apply implements Op. Applying it to a State that already holds this very
// provider (same id and name) is a no-op.
func (o *CreateProvider) Apply(s *State, _ time.Time) (*State, error) {
	p := o.Provider.Clone()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := checkMappingGroups(s, p.GroupMappings); err != nil {
		return nil, err
	}
	if i, ok := s.providerByID[p.ID]; ok {
		if s.providers[i].Name == p.Name {
			return s, nil
		}
		return nil, fmt.Errorf("auth provider id %q is taken: %w", p.ID, ErrConflict)
	}
	if _, ok := s.providerByName[p.Name]; ok {
		return nil, fmt.Errorf("auth provider name %q is taken: %w", p.Name, ErrConflict)
	}
	d := newDraft(s)
	d.Providers = append(d.Providers, p)
	return d.finish()
}

// Describe implements Op.
func (o *CreateProvider) Describe() string {
	return fmt.Sprintf("create auth provider %q (id %s, type %s)", o.Provider.Name, o.Provider.ID, o.Provider.Type)
}

// UpdateProvider changes the fields of auth provider ID that are non-nil.
type UpdateProvider struct {
	ID           string
	Name         *string
	Type         *string
	IssuerURL    *string
	ClientID     *string
	ClientSecret *string
	Scopes       *[]string
	Enabled      *bool
	Priority     *int
	DisplayName  *string
	// RedirectURL and GroupMappings (schema 3): GroupMappings replaces
	// the whole list.
	RedirectURL   *string
	GroupMappings *[]iam.GroupMapping
}

// Apply implements Op.
func (o *UpdateProvider) Apply(s *State, _ time.Time) (*State, error) {
	d := newDraft(s)
	pi, err := d.provider(o.ID)
	if err != nil {
		return nil, err
	}
	p := d.Providers[pi]
	if o.Name != nil && *o.Name != p.Name {
		if _, taken := s.providerByName[*o.Name]; taken {
			return nil, fmt.Errorf("auth provider name %q is taken: %w", *o.Name, ErrConflict)
		}
		p.Name = *o.Name
	}
	setIf(&p.Type, o.Type)
	setIf(&p.IssuerURL, o.IssuerURL)
	setIf(&p.ClientID, o.ClientID)
	setIf(&p.ClientSecret, o.ClientSecret)
	setIf(&p.Enabled, o.Enabled)
	setIf(&p.Priority, o.Priority)
	setIf(&p.DisplayName, o.DisplayName)
	setIf(&p.RedirectURL, o.RedirectURL)
	if o.GroupMappings != nil {
		p.GroupMappings = iam.CloneGroupMappings(*o.GroupMappings)
	}
	if o.Scopes != nil {
		p.Scopes = slices.Clone(*o.Scopes)
		if len(p.Scopes) == 0 {
			p.Scopes = nil
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if o.GroupMappings != nil {
		if err := checkMappingGroups(s, p.GroupMappings); err != nil {
			return nil, err
		}
	}
	d.Providers[pi] = p
	return d.finish()
}

// checkMappingGroups reports the first group of the mapping rules that s
// does not hold, naming its field.
func checkMappingGroups(s *State, ms []iam.GroupMapping) error {
	for i, m := range ms {
		if err := checkIDs(fmt.Sprintf("group_mappings[%d].groups", i), "group", m.Groups, s.groupByID); err != nil {
			return err
		}
	}
	return nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Describe implements Op.
func (o *UpdateProvider) Describe() string {
	var f fieldList
	f.add("name", o.Name != nil)
	f.add("type", o.Type != nil)
	f.add("issuer_url", o.IssuerURL != nil)
	f.add("client_id", o.ClientID != nil)
	f.add("client_secret", o.ClientSecret != nil)
	f.add("scopes", o.Scopes != nil)
	f.add("enabled", o.Enabled != nil)
	f.add("priority", o.Priority != nil)
	f.add("display_name", o.DisplayName != nil)
	f.add("redirect_url", o.RedirectURL != nil)
	f.add("group_mappings", o.GroupMappings != nil)
	return "update auth provider " + o.ID + f.String()
}

// DeleteProvider deletes auth provider ID.
type DeleteProvider struct {
	ID string
}

// Apply implements Op.
func (o *DeleteProvider) Apply(s *State, _ time.Time) (*State, error) {
	d := newDraft(s)
	pi, err := d.provider(o.ID)
	if err != nil {
		return nil, err
	}
	d.Providers = slices.Delete(d.Providers, pi, pi+1)
	return d.finish()
}

// Describe implements Op.
func (o *DeleteProvider) Describe() string { return "delete auth provider " + o.ID }
