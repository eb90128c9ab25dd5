package configdb

import (
	"fmt"
	"strings"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// rawUsers are the JSON texts of the users of a State opened from a
// sealed DB, aligned with State.users, and the form they were decoded in:
// a later pull that finds the very same text at about the same place
// takes the user from that State instead of decoding it again (OpenOn).
// The texts are slices of the payload the users' strings already keep.
type rawUsers struct {
	texts   []string
	schema  uint16
	lenient bool
}

// decodeOn is decodePayload reusing the users of base whose JSON text
// recurs unchanged in payload (base may be nil). It also returns the JSON
// texts of the decoded users, in payload order (nil when the payload
// repeats its "users" key: positions then do not say which text a user
// came from).
//
// Decoding is deterministic: the same text in the same form (schema,
// lenient) decodes to the same user, so reusing base's user gives the
// State decoding would. Base's users went through build, which sorts
// group ids and makes times UTC; build does the same to the decoded
// users, so the State built is the same.
func decodeOn(payload []byte, schema uint16, lenient bool, base *State) (Data, []string, error) {
	d := decoder{buf: payload, str: string(payload), schema: schema, lenient: lenient}
	if base != nil && base.raw != nil && base.raw.schema == schema && base.raw.lenient == lenient &&
		len(base.raw.texts) == len(base.users) {
		d.reuse = base
	}
	d.texts = []string{}
	var out Data
	d.ws()
	if err := d.data(&out); err != nil {
		return Data{}, nil, fmt.Errorf("decode state: %w", err)
	}
	d.ws()
	if d.pos < len(d.buf) {
		return Data{}, nil, fmt.Errorf("decode state: trailing data")
	}
	return out, d.texts, nil
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
	isNull, err := d.beginArray("a list of users")
	if isNull || err != nil {
		return nil, err
	}
	base := d.reuse
	var out []iam.User
	if base != nil {
		out = make([]iam.User, 0, len(base.users)+1)
	}
	next := 0 // the base user expected next
	for first := true; ; {
		more, err := d.nextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		start := d.pos
		if n := len(out); n == 1 && base == nil {
			// Size the list once, guessing that the other users are as
			// long as the first (as list does).
			out = append(make([]iam.User, 0, max((len(d.buf)-start)/max(len(d.texts[0]), 64), 1)+1), out...)
		}
		if j, ok := d.recurring(base, next); ok {
			out = append(out, base.users[j])
			d.texts = append(d.texts, base.raw.texts[j])
			next = j + 1
			continue
		}
		var u iam.User
		if err := d.user(&u); err != nil {
			return nil, fmt.Errorf("[%d]: %w", len(out), err)
		}
		text := d.str[start:d.pos]
		if base != nil {
			// A user decoded next to reused ones must not keep this whole
			// payload alive for as long as it stays unchanged (the reused
			// ones keep theirs): with every change pinning its payload, a
			// reader would hold one payload per change.
			u, text = detachDecoded(u), strings.Clone(text)
		}
		out = append(out, u)
		d.texts = append(d.texts, text)
	}
	if out == nil {
		out = make([]iam.User, 0) // [] is an empty list, as encoding/json gives
	}
	return out, nil
}

// recurring reports whether the text at d.pos is that of base's user
// next, next+1 or next+2 (a user added, changed or removed just before
// leaves the rest in place), and if so consumes it. A text is a whole
// JSON object, so the input holding it as a prefix holds that object.
func (d *decoder) recurring(base *State, next int) (int, bool) {
	if base == nil {
		return 0, false
	}
	rest := d.str[d.pos:]
	for j := next; j < min(next+3, len(base.raw.texts)); j++ {
		if t := base.raw.texts[j]; strings.HasPrefix(rest, t) {
			d.pos += len(t)
			return j, true
		}
	}
	return 0, false
}

// detachDecoded returns u with copies of all its strings.
func detachDecoded(u iam.User) iam.User {
	u = detachUser(u)
	if len(u.GroupIDs) > 0 {
		ids := make([]string, len(u.GroupIDs))
		for i, id := range u.GroupIDs {
			ids[i] = strings.Clone(id)
		}
		u.GroupIDs = ids
	}
	return u
}
