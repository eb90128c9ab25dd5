package configdb

import (
	"fmt"
	"slices"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// Migration brings decoded content of schema N to schema N+1. The decoder
// reads every schema's form (decodePayload), so a migration works on the
// decoded Data, in memory, when a DB of an older schema is opened; the
// next Seal writes the schema the caller asks for (SealOptions.Schema).
type Migration func(d *Data) error

// schemaMigrations returns the migrations of this binary, keyed by the
// schema they migrate from. A new schema N+1 adds an entry for N here,
// teaches the decoder and the encoder its form, and bumps CurrentSchema.
func schemaMigrations() map[uint16]Migration {
	return map[uint16]Migration{
		1: migrateMembership,
		2: migrateAdditive,
	}
}

// migrateAdditive migrates schema 2 to 3: schema 3 only adds fields (the
// auth providers' redirect_url and group_mappings), absent from a schema
// 2 DB, so there is nothing to change.
func migrateAdditive(*Data) error { return nil }

// migrateMembership migrates schema 1 to 2. Schema 1 stores group
// membership on both sides (User.GroupIDs and Group.MemberIDs); schema 2
// stores it on the users only, and Group.MemberIDs is derived from them
// (deriveMembers). The migration checks that the two sides agree (a
// schema 1 DB that validates always does) and drops member_ids.
func migrateMembership(d *Data) error {
	derived := Data{Users: d.Users, Groups: make([]iam.Group, len(d.Groups))}
	for i, g := range d.Groups {
		derived.Groups[i] = iam.Group{ID: g.ID}
	}
	deriveMembers(&derived)
	for i, g := range d.Groups {
		stored := slices.Sorted(slices.Values(g.MemberIDs))
		if !slices.Equal(stored, derived.Groups[i].MemberIDs) {
			return fmt.Errorf("migrate schema 1 to 2: group %q lists members %q, its members' group_ids say %q",
				g.ID, stored, derived.Groups[i].MemberIDs)
		}
	}
	for i := range d.Groups {
		d.Groups[i].MemberIDs = nil
	}
	return nil
}

// deriveMembers sets the MemberIDs of every group of d from the users'
// GroupIDs (sorted, as build keeps them), the one stored side of
// membership since schema 2. A user listing a group that does not exist
// is left for validation to refuse.
func deriveMembers(d *Data) {
	if len(d.Groups) == 0 {
		return
	}
	pos := make(map[string]int, len(d.Groups))
	for i := range d.Groups {
		pos[d.Groups[i].ID] = i
	}
	counts := make([]int, len(d.Groups))
	total := 0
	for i := range d.Users {
		for _, gid := range d.Users[i].GroupIDs {
			if gi, ok := pos[gid]; ok {
				counts[gi]++
				total++
			}
		}
	}
	// One backing array, cut into capped per-group lists.
	backing := make([]string, 0, total)
	for gi := range d.Groups {
		d.Groups[gi].MemberIDs = nil
		if counts[gi] > 0 {
			n := len(backing)
			backing = backing[:n+counts[gi]]
			d.Groups[gi].MemberIDs = backing[n : n : n+counts[gi]]
		}
	}
	for i := range d.Users {
		for _, gid := range d.Users[i].GroupIDs {
			if gi, ok := pos[gid]; ok {
				d.Groups[gi].MemberIDs = append(d.Groups[gi].MemberIDs, d.Users[i].ID)
			}
		}
	}
	for gi := range d.Groups {
		slices.Sort(d.Groups[gi].MemberIDs)
	}
}

// checkMigratable reports whether a DB of the given schema can be brought
// to CurrentSchema with migrations (schema is known not to be newer).
func checkMigratable(schema uint16, migrations map[uint16]Migration) error {
	for v := schema; int(v) < CurrentSchema; v++ {
		if migrations[v] == nil {
			return fmt.Errorf("%w: schema %d is older than any this binary can migrate (current %d)", ErrUnsupportedFormat, schema, CurrentSchema)
		}
	}
	return nil
}

// migrate applies the migrations from schema up to CurrentSchema.
func migrate(d *Data, schema uint16, migrations map[uint16]Migration) error {
	for v := schema; int(v) < CurrentSchema; v++ {
		m := migrations[v]
		if m == nil {
			return fmt.Errorf("no migration from schema %d", v)
		}
		if err := m(d); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	return nil
}
