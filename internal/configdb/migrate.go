package configdb

import (
	"fmt"
)

// Migration rewrites the decrypted JSON payload of schema N into schema N+1.
// It runs in memory when a DB with an older schema is opened; the DB is
// written back in the current schema by the next Seal.
type Migration func(payload []byte) ([]byte, error)

// schemaMigrations returns the migrations of this binary, keyed by the
// schema they migrate from. Schema 1 is the first: there are none yet. A
// new schema N+1 adds an entry for N here and bumps CurrentSchema.
func schemaMigrations() map[uint16]Migration {
	return map[uint16]Migration{}
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
func migrate(payload []byte, schema uint16, migrations map[uint16]Migration) ([]byte, error) {
	for v := schema; int(v) < CurrentSchema; v++ {
		m := migrations[v]
		if m == nil {
			return nil, fmt.Errorf("no migration from schema %d", v)
		}
		out, err := m(payload)
		if err != nil {
			return nil, fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
		payload = out
	}
	return payload, nil
}
