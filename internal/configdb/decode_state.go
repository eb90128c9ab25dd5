package configdb

import (
	"fmt"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// data decodes the top-level object into *out (null leaves it empty).
func (d *decoder) data(out *Data) error {
	if isNull, err := d.BeginObject("the state object"); isNull || err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil || !more {
			return err
		}
		name, err := d.field(key,
			"users", "groups", "auth_providers", "session_revocations")
		if err != nil {
			return err
		}
		switch name { // "": an unknown member, skipped
		case "users":
			out.Users, err = d.users(out.Users)
		case "groups":
			out.Groups, err = d.groups(out.Groups)
		case "auth_providers":
			out.Providers, err = list(d, out.Providers, "a list of auth providers", (*decoder).provider)
		case "session_revocations":
			out.Revocations, err = d.revocations(out.Revocations)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

// list decodes a list of objects over cur, each element with elem (null
// empties the list; an element decodes over the one at its position, as
// encoding/json does).
func list[T any](d *decoder, cur []T, want string, elem func(*decoder, *T) error) ([]T, error) {
	isNull, err := d.BeginArray(want)
	if isNull || err != nil {
		return nil, err
	}
	n := 0
	for first := true; ; n++ {
		more, err := d.NextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == len(cur) {
			var zero T
			cur = append(cur, zero)
		}
		start := d.Pos
		if err := elem(d, &cur[n]); err != nil {
			return nil, fmt.Errorf("[%d]: %w", n, err)
		}
		if n == 0 && cap(cur) < 64 {
			// Size the list once for the rest of the input, guessing that
			// the other elements are as long as the first.
			if guess := (len(d.Buf) - start) / max(d.Pos-start, 64); guess > cap(cur) {
				cur = append(make([]T, 0, guess), cur...)
			}
		}
	}
	if n == 0 {
		return make([]T, 0), nil
	}
	return cur[:n], nil
}

func (d *decoder) user(u *iam.User) error {
	if isNull, err := d.BeginObject("a user object"); isNull || err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil || !more {
			return err
		}
		name, err := d.field(key,
			"id", "name", "access_key_id", "secret_access_key", "enabled", "created_at", "permissions", "group_ids")
		if err != nil {
			return err
		}
		switch name { // "": an unknown member, skipped
		case "id":
			err = d.StringInto(&u.ID)
		case "name":
			err = d.StringInto(&u.Name)
		case "access_key_id":
			err = d.StringInto(&u.AccessKeyID)
		case "secret_access_key":
			err = d.StringInto(&u.SecretAccessKey)
		case "enabled":
			err = d.BoolInto(&u.Enabled)
		case "created_at":
			err = d.TimeInto(&u.CreatedAt)
		case "permissions":
			u.Permissions, err = d.rules(u.Permissions)
		case "group_ids":
			u.GroupIDs, err = d.stringList(u.GroupIDs)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func (d *decoder) group(g *iam.Group) error {
	if isNull, err := d.BeginObject("a group object"); isNull || err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil || !more {
			return err
		}
		var name string
		if d.schema < 2 { // membership on both sides until schema 2
			name, err = d.field(key, "id", "name", "description", "permissions", "member_ids")
		} else {
			name, err = d.field(key, "id", "name", "description", "permissions")
		}
		if err != nil {
			return err
		}
		switch name { // "": an unknown member, skipped
		case "id":
			err = d.StringInto(&g.ID)
		case "name":
			err = d.StringInto(&g.Name)
		case "description":
			err = d.StringInto(&g.Description)
		case "permissions":
			g.Permissions, err = d.rules(g.Permissions)
		case "member_ids":
			g.MemberIDs, err = d.stringList(g.MemberIDs)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func (d *decoder) provider(p *iam.AuthProvider) error {
	if isNull, err := d.BeginObject("an auth provider object"); isNull || err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil || !more {
			return err
		}
		var name string
		if d.schema < 3 { // redirect URL and group mappings since schema 3
			name, err = d.field(key,
				"id", "name", "type", "issuer_url", "client_id", "client_secret", "scopes", "enabled", "priority", "display_name")
		} else {
			name, err = d.field(key,
				"id", "name", "type", "issuer_url", "client_id", "client_secret", "scopes", "enabled", "priority", "display_name",
				"redirect_url", "group_mappings")
		}
		if err != nil {
			return err
		}
		switch name { // "": an unknown member, skipped
		case "id":
			err = d.StringInto(&p.ID)
		case "name":
			err = d.StringInto(&p.Name)
		case "type":
			err = d.StringInto(&p.Type)
		case "issuer_url":
			err = d.StringInto(&p.IssuerURL)
		case "client_id":
			err = d.StringInto(&p.ClientID)
		case "client_secret":
			err = d.StringInto(&p.ClientSecret)
		case "scopes":
			p.Scopes, err = d.stringList(p.Scopes)
		case "enabled":
			err = d.BoolInto(&p.Enabled)
		case "priority":
			err = d.IntInto(&p.Priority)
		case "display_name":
			err = d.StringInto(&p.DisplayName)
		case "redirect_url":
			err = d.StringInto(&p.RedirectURL)
		case "group_mappings":
			p.GroupMappings, err = list(d, p.GroupMappings, "a list of group mappings", (*decoder).groupMapping)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func (d *decoder) groupMapping(m *iam.GroupMapping) error {
	if isNull, err := d.BeginObject("a group mapping object"); isNull || err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil || !more {
			return err
		}
		name, err := d.field(key, "email", "claim", "value", "regex", "groups")
		if err != nil {
			return err
		}
		switch name { // "": an unknown member, skipped
		case "email":
			err = d.StringInto(&m.Email)
		case "claim":
			err = d.StringInto(&m.Claim)
		case "value":
			err = d.StringInto(&m.Value)
		case "regex":
			err = d.StringInto(&m.Regex)
		case "groups":
			m.Groups, err = d.stringList(m.Groups)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

// rules decodes a list of rules over cur into a shared block.
func (d *decoder) rules(cur []iam.Rule) ([]iam.Rule, error) {
	if isNull, err := d.BeginArray("a list of rules"); isNull || err != nil {
		return nil, err
	}
	list := append(d.ruleScratch[:0], cur...)
	n := 0
	for first := true; ; n++ {
		more, err := d.NextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == len(list) {
			list = append(list, iam.Rule{})
		}
		if err := d.rule(&list[n]); err != nil {
			return nil, fmt.Errorf("[%d]: %w", n, err)
		}
	}
	d.ruleScratch = list
	out := d.ruleBlock.copyOf(list[:n])
	clear(list[:n]) // the scratch must not keep the last rules alive
	return out, nil
}

func (d *decoder) rule(r *iam.Rule) error {
	if isNull, err := d.BeginObject("a rule object"); isNull || err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil || !more {
			return err
		}
		name, err := d.field(key,
			"effect", "actions", "resources")
		if err != nil {
			return err
		}
		switch name { // "": an unknown member, skipped
		case "effect":
			s := string(r.Effect)
			err = d.StringInto(&s)
			r.Effect = internEffect(s)
		case "actions":
			r.Actions, err = d.actionList(r.Actions)
		case "resources":
			r.Resources, err = d.stringList(r.Resources)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func internEffect(s string) iam.Effect {
	switch s {
	case string(iam.EffectAllow):
		return iam.EffectAllow
	case string(iam.EffectDeny):
		return iam.EffectDeny
	}
	return iam.Effect(s)
}

// revocations decodes the identity -> time map into cur (null empties
// it; each value starts from the zero time).
func (d *decoder) revocations(cur map[string]time.Time) (map[string]time.Time, error) {
	isNull, err := d.BeginObject("an object of revocation times")
	if isNull || err != nil {
		return nil, err
	}
	if cur == nil {
		cur = map[string]time.Time{}
	}
	for first := true; ; {
		key, more, err := d.NextKey(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			return cur, nil
		}
		var t time.Time
		if err := d.TimeInto(&t); err != nil {
			return nil, fmt.Errorf("[%q]: %w", key, err)
		}
		cur[key] = t
	}
}
