package configdb

import (
	"fmt"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/jsonscan"
)

// rawTexts are the JSON texts of the users and groups of a State opened
// from a sealed DB, aligned with State.users and State.groups (nil when
// not known), and the form they were decoded in: a later pull that finds
// the very same text at about the same place takes the user or group from
// that State instead of decoding it again (OpenOn). The texts are slices
// of the payload the users' and groups' strings already keep.
type rawTexts struct {
	users, groups []string
	schema        uint16
	lenient       bool
}

// decodeOn is decodePayload reusing the users and groups of base whose
// JSON text recurs unchanged in payload (base may be nil). It also returns
// the JSON texts of the decoded users and groups, in payload order (users
// nil when the payload repeats its "users" key, groups likewise: positions
// then do not say which text an element came from; groups nil before
// schema 2, whose groups' member lists are replaced by deriveMembers).
//
// Decoding is deterministic: the same text in the same form (schema,
// lenient) decodes to the same user or group, so reusing base's gives the
// State decoding would. Base's users went through build, which sorts
// group ids and makes times UTC; build does the same to the decoded
// users, so the State built is the same. Base's groups differ from their
// decoded form only in their member lists (derived from the users since
// schema 2, where a group's text holds none): a reused group is taken
// without them, as it decodes.
func decodeOn(payload []byte, schema uint16, lenient bool, base *State) (Data, rawTexts, error) {
	d := decoder{Scanner: jsonscan.Scanner{Buf: payload}, schema: schema, lenient: lenient}
	if base != nil && base.raw != nil && base.raw.schema == schema && base.raw.lenient == lenient {
		if len(base.raw.users) == len(base.users) {
			d.reuse = base
		}
		if base.raw.groups != nil && len(base.raw.groups) == len(base.groups) {
			d.reuseGroups = base
		}
	}
	// Reusing, most of the payload is not decoded: its few new strings
	// are copied one by one (and so keep no payload alive) rather than
	// the whole payload once.
	if d.reuse == nil && d.reuseGroups == nil {
		d.Text = string(payload)
	}
	d.texts = []string{}
	if schema >= 2 {
		d.groupTexts = []string{}
	}
	var out Data
	d.SkipSpace()
	if err := d.data(&out); err != nil {
		return Data{}, rawTexts{}, fmt.Errorf("decode state: %w", err)
	}
	d.SkipSpace()
	if d.Pos < len(d.Buf) {
		return Data{}, rawTexts{}, fmt.Errorf("decode state: trailing data")
	}
	return out, rawTexts{users: d.texts, groups: d.groupTexts, schema: schema, lenient: lenient}, nil
}

// users decodes the list of users over cur as list does, taking from
// d.reuse the users whose text recurs, and records the texts.
func (d *decoder) users(cur []iam.User) ([]iam.User, error) {
	if len(cur) > 0 || d.usersSeen || d.texts == nil {
		// A repeated "users" key decodes over the earlier list; without
		// decodeOn nothing is recorded.
		d.texts, d.reuse = nil, nil
		return list(d, cur, "a list of users", (*decoder).user)
	}
	d.usersSeen = true
	r := reusing[iam.User]{what: "a list of users", decode: (*decoder).user, take: func(u iam.User) iam.User { return u }}
	if d.reuse != nil {
		r.base, r.texts = d.reuse.users, d.reuse.raw.users
	}
	return decodeReusing(d, &d.texts, r)
}

// groups decodes the list of groups as list does, taking from
// d.reuseGroups the groups whose text recurs, and records the texts.
func (d *decoder) groups(cur []iam.Group) ([]iam.Group, error) {
	if len(cur) > 0 || d.groupsSeen || d.groupTexts == nil {
		// A repeated "groups" key decodes over the earlier list; without
		// decodeOn (or before schema 2) nothing is recorded.
		d.groupTexts, d.reuseGroups = nil, nil
		return list(d, cur, "a list of groups", (*decoder).group)
	}
	d.groupsSeen = true
	r := reusing[iam.Group]{what: "a list of groups", decode: (*decoder).group, take: func(g iam.Group) iam.Group {
		// As decoded: schema 2 texts hold no member list.
		return iam.Group{ID: g.ID, Name: g.Name, Description: g.Description, Permissions: g.Permissions}
	}}
	if d.reuseGroups != nil {
		r.base, r.texts = d.reuseGroups.groups, d.reuseGroups.raw.groups
	}
	return decodeReusing(d, &d.groupTexts, r)
}

// reusing is a list decodeReusing decodes: its elements' decoder, and the
// elements of a base State with their texts (none without a base).
type reusing[T any] struct {
	what   string // for errors: "a list of users"
	decode func(*decoder, *T) error
	base   []T
	texts  []string  // the texts of base, aligned with it
	take   func(T) T // a base element as decoding its text gives it
}

// decodeReusing decodes the list at d.Pos as list does, taking r.take of
// the base element whose text recurs (see recurring) instead of decoding
// it again, and appends the texts of the elements to *texts. A decoded
// element keeps no payload alive: with a base, decodeOn copies every
// string it decodes (its Scanner has no Text), the text too.
func decodeReusing[T any](d *decoder, texts *[]string, r reusing[T]) ([]T, error) {
	isNull, err := d.BeginArray(r.what)
	if isNull || err != nil {
		return nil, err
	}
	var out []T
	if r.base != nil {
		out = make([]T, 0, len(r.base)+1)
		*texts = make([]string, 0, cap(out))
	}
	next := 0 // the base element expected next
	for first := true; ; {
		more, err := d.NextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		start := d.Pos
		if len(out) == 1 && r.base == nil {
			// Size the list once, guessing that the other elements are
			// as long as the first (as list does).
			out = append(make([]T, 0, max((len(d.Buf)-start)/max(len((*texts)[0]), 64), 1)+1), out...)
			*texts = append(make([]string, 0, cap(out)), *texts...)
		}
		if j, ok := d.recurring(r.texts, next); ok {
			out = append(out, r.take(r.base[j]))
			*texts = append(*texts, r.texts[j])
			next = j + 1
			continue
		}
		var v T
		if err := r.decode(d, &v); err != nil {
			return nil, fmt.Errorf("[%d]: %w", len(out), err)
		}
		out = append(out, v)
		*texts = append(*texts, d.Sub(start, d.Pos))
	}
	if out == nil {
		out = make([]T, 0) // [] is an empty list, as encoding/json gives
	}
	return out, nil
}

// recurring reports whether the text at d.Pos is texts[next], [next+1] or
// [next+2] (a user added, changed or removed just before leaves the rest
// in place), and if so consumes it and returns its index. A text is a
// whole JSON object, so the input holding it as a prefix holds that
// object.
func (d *decoder) recurring(texts []string, next int) (int, bool) {
	rest := d.Buf[d.Pos:]
	for j := next; j < min(next+3, len(texts)); j++ {
		if t := texts[j]; len(rest) >= len(t) && string(rest[:len(t)]) == t {
			d.Pos += len(t)
			return j, true
		}
	}
	return 0, false
}

// keptTexts returns the texts s keeps (nil: none): those of its users and
// of its groups, each when build left them in payload order.
func keptTexts(texts rawTexts, s *State) *rawTexts {
	if texts.users == nil || !s.usersInOrder || len(texts.users) != len(s.users) {
		texts.users = nil
	}
	if texts.groups == nil || !s.groupsInOrder || len(texts.groups) != len(s.groups) {
		texts.groups = nil
	}
	if texts.users == nil && texts.groups == nil {
		return nil
	}
	return &texts
}
