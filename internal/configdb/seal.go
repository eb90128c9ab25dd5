package configdb

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

var (
	// ErrAuthFailed: the ciphertext did not authenticate. Either the
	// secret is wrong or the bytes were tampered with; AES-GCM cannot tell
	// which.
	ErrAuthFailed = errors.New("config db authentication failed: wrong bootstrap secret, or the file was tampered with")
	// ErrWrongSecret is ErrAuthFailed under the name callers may look for:
	// a wrong secret and tampering are indistinguishable.
	ErrWrongSecret = ErrAuthFailed
	// ErrInvalidState: the DB decrypted but its content does not decode or
	// does not validate.
	ErrInvalidState = errors.New("config db content is invalid")
	// ErrNoSecret: the bootstrap secret is empty.
	ErrNoSecret = errors.New("config db secret is empty")
)

// SealOptions say how Seal writes the header.
type SealOptions struct {
	// WriterNode identifies the instance that seals (at most 64 bytes).
	WriterNode string
	// KDF are the Argon2id parameters. Zero means: those of Prev when
	// given, else DefaultKDFParams.
	KDF KDFParams
	// Prev is the header of the DB this one replaces (the one last read or
	// written), if any. When its KDF parameters equal the ones in use its
	// salt is reused, so the cached key serves again and no new derivation
	// is paid on either side. Otherwise a fresh random salt is drawn.
	Prev *Header
	// Now is recorded as the sealing time (milliseconds); zero, or a time
	// before 1970, records "unknown".
	Now time.Time
	// Schema is the schema to encode the State in: 0 means CurrentSchema,
	// else from MinWriteSchema to CurrentSchema. A writer in a fleet keeps
	// the schema of the DB it replaces until told otherwise (configsync's
	// write-schema policy, docs/upgrading.md), so that instances not yet
	// upgraded keep reading it. It is a floor: a State holding what an
	// older schema cannot store is sealed in the lowest schema that can
	// (ContentSchema), never losing a field, provided the binaries that
	// read Schema read that one too (its min_reader_schema is at most
	// Schema); otherwise Seal refuses with ErrInvalid.
	Schema int
}

// MinWriteSchema is the oldest schema Seal can encode.
const MinWriteSchema = 1

// minReaderSchema returns the min_reader_schema of a DB of the given
// schema: the schema itself when older binaries cannot read it, lower for
// an additive schema. Schema 2 is not additive: a schema 1 binary reading
// it (without member_ids) would find every group empty, and refuse every
// user listing a group, since it validates membership on both sides.
//
// Schema 3 is additive (auth providers gain redirect_url and
// group_mappings): a schema 2 binary reads it, ignoring those fields, and
// enforces users and groups exactly; it never rewrites it (Header.Newer).
func minReaderSchema(schema uint16) uint16 {
	if schema == 3 {
		return 2
	}
	return schema
}

// MinReaderSchema returns the min_reader_schema Seal writes for a DB of
// schema: schema itself, or lower for an additive schema (3 is readable
// from 2).
func MinReaderSchema(schema int) int { return int(minReaderSchema(uint16(schema))) }

// ContentSchema returns the lowest schema that can store everything s
// holds: 3 when an auth provider has a redirect URL or group mappings,
// else MinWriteSchema. Seal never writes a lower one.
func (s *State) ContentSchema() int {
	schema, _ := s.contentSchema()
	return schema
}

// contentSchema is ContentSchema and the id of a provider that needs it
// (when it is above MinWriteSchema).
func (s *State) contentSchema() (int, string) {
	for i := range s.providers {
		if s.providers[i].RedirectURL != "" || len(s.providers[i].GroupMappings) > 0 {
			return 3, s.providers[i].ID
		}
	}
	return MinWriteSchema, ""
}

// Seal encodes s and encrypts it with AES-256-GCM under
// Argon2id(secret, salt), with a fresh random nonce every time and the
// whole header as associated data. The result is the complete file (see
// docs/config-db-format.md).
func Seal(s *State, opts SealOptions, keys *KeyCache, secret []byte) ([]byte, error) {
	schema := uint16(CurrentSchema)
	if opts.Schema != 0 {
		if opts.Schema < MinWriteSchema || opts.Schema > CurrentSchema {
			return nil, fmt.Errorf("seal config db: schema %d: this binary writes schemas %d to %d", opts.Schema, MinWriteSchema, CurrentSchema)
		}
		schema = uint16(opts.Schema)
	}
	if need, who := s.contentSchema(); need > int(schema) {
		if MinReaderSchema(need) > int(schema) {
			return nil, fmt.Errorf("seal config db: %w", &iam.FieldError{Field: "auth_providers[" + who + "]", Msg: fmt.Sprintf(
				"a redirect URL or group mappings need config DB schema %d, which binaries of schema %d cannot read, and this fleet writes schema %d: "+
					"raise advanced.config_sync_write_schema to %d once every instance runs a binary of schema %d or later (docs/upgrading.md)",
				need, schema, schema, need, MinReaderSchema(need))})
		}
		schema = uint16(need)
	}
	payload, err := encodeAt(s, schema)
	if err != nil {
		return nil, fmt.Errorf("seal config db: %w", err)
	}
	return sealPayload(payload, schema, minReaderSchema(schema), s.generation, opts, keys, secret)
}

// encodeData encodes s in the current schema.
func encodeData(s *State) ([]byte, error) { return encodeAt(s, CurrentSchema) }

// encodeAt encodes s in the form of schema: schema 1 stores membership on
// both sides (the groups' member_ids as well), schema 2 on the users only;
// schema 3 adds the providers' redirect_url and group_mappings, which
// older forms omit (Seal never encodes a State in a schema below its
// ContentSchema).
func encodeAt(s *State, schema uint16) ([]byte, error) {
	groups := s.groups
	if schema >= 2 && len(groups) > 0 {
		groups = make([]iam.Group, len(s.groups))
		copy(groups, s.groups)
		for i := range groups {
			groups[i].MemberIDs = nil // omitted (omitempty)
		}
	}
	providers := s.providers
	if schema < 3 && len(providers) > 0 {
		providers = make([]iam.AuthProvider, len(s.providers))
		copy(providers, s.providers)
		for i := range providers {
			providers[i].RedirectURL, providers[i].GroupMappings = "", nil // omitted (omitempty)
		}
	}
	b, err := json.Marshal(Data{Users: s.users, Groups: groups, Providers: providers, Revocations: s.revocations})
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return b, nil
}

// sealPayload seals payload as schema, readable from minReader (format 1
// when they are equal, else format 2).
func sealPayload(payload []byte, schema, minReader uint16, generation uint64, opts SealOptions, keys *KeyCache, secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("seal config db: %w", ErrNoSecret)
	}
	if err := validWriterNode(opts.WriterNode); err != nil {
		return nil, fmt.Errorf("seal config db: %w", err)
	}
	kdf := opts.KDF
	if kdf == (KDFParams{}) {
		kdf = DefaultKDFParams()
		if opts.Prev != nil {
			kdf = opts.Prev.KDF
		}
	}
	if err := kdf.Validate(); err != nil {
		return nil, fmt.Errorf("seal config db: %w", err)
	}
	if uint64(len(payload))+TagSize > uint64(^uint32(0)) {
		return nil, fmt.Errorf("seal config db: %d-byte state is too large", len(payload))
	}
	if minReader > schema || (minReader < schema && minReader == 0) {
		return nil, fmt.Errorf("seal config db: min reader schema %d with schema %d", minReader, schema)
	}
	h := Header{
		FormatVersion:   FormatVersion,
		Schema:          schema,
		MinReaderSchema: minReader,
		Generation:      generation,
		WriterNode:      opts.WriterNode,
		KDF:             kdf,
		CiphertextLen:   uint32(len(payload) + TagSize),
	}
	if minReader < schema {
		h.FormatVersion = FormatVersionMinReader
	}
	if ms := opts.Now.UnixMilli(); !opts.Now.IsZero() && ms > 0 {
		h.SealedAt = time.UnixMilli(ms).UTC()
	}
	if opts.Prev != nil && opts.Prev.KDF == kdf {
		h.Salt = opts.Prev.Salt
	} else if _, err := io.ReadFull(rand.Reader, h.Salt[:]); err != nil {
		return nil, fmt.Errorf("seal config db: salt: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, h.Nonce[:]); err != nil {
		return nil, fmt.Errorf("seal config db: nonce: %w", err)
	}
	aead, err := newAEAD(keys.Key(secret, h.Salt, kdf))
	if err != nil {
		return nil, fmt.Errorf("seal config db: %w", err)
	}
	aad := appendHeader(nil, h) // dst and additional data must not overlap
	out := make([]byte, 0, len(aad)+int(h.CiphertextLen))
	out = append(out, aad...)
	return aead.Seal(out, h.Nonce[:], payload, aad), nil
}

func newAEAD(key [KeySize]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Open verifies and decrypts a sealed config DB and returns its State (at
// the header's generation) and header. The steps, each refusing the file
// with a distinct error: header (ErrBadMagic, ErrTruncated, ErrMalformed,
// ErrUnsupportedFormat, ErrBadKDFParams), schema (ErrSchemaTooNew when the
// min_reader_schema is newer than CurrentSchema, checked before any key
// derivation), length (ErrTruncated, ErrMalformed), decryption
// (ErrAuthFailed), migration of an older schema, decoding and validation
// (ErrInvalidState).
//
// Decoding is strict (an unknown field refuses the DB) except for a newer
// schema that this binary can read (Header.Newer, min_reader_schema <=
// CurrentSchema): its payload is decoded as CurrentSchema, ignoring the
// fields this binary does not know. The State then lacks those fields, so
// the caller must never seal it over that DB (configsync refuses to
// publish while it holds such a DB).
func Open(b []byte, keys *KeyCache, secret []byte) (*State, Header, error) {
	return open(b, keys, secret, schemaMigrations())
}

// OpenOn is Open for a reader that holds base (any valid State, such as
// the current snapshot; nil: none): the users and groups of the DB that
// equal base's are neither validated nor compiled again, their compiled
// form is shared with base. The result, and every error, are those of
// Open.
func OpenOn(b []byte, keys *KeyCache, secret []byte, base *State) (*State, Header, error) {
	return openOn(b, keys, secret, schemaMigrations(), base, nil)
}

// Opener opens DBs as OpenOn does, one at a time, decrypting into a buffer
// it keeps from one call to the next (a reader opens a DB of about the
// same size on every IAM change; a new buffer each time is zeroed memory,
// often fresh pages). Nothing it returns refers to that buffer: the
// decoder keeps copies. Not safe for concurrent use; the zero Opener is
// ready.
type Opener struct {
	plain []byte
}

// OpenOn is the package's OpenOn, decrypting into o's buffer.
func (o *Opener) OpenOn(b []byte, keys *KeyCache, secret []byte, base *State) (*State, Header, error) {
	return openOn(b, keys, secret, schemaMigrations(), base, &o.plain)
}

func open(b []byte, keys *KeyCache, secret []byte, migrations map[uint16]Migration) (*State, Header, error) {
	return openOn(b, keys, secret, migrations, nil, nil)
}

// openOn opens b over base; with scratch, the payload is decrypted into
// *scratch (grown as needed), which the State built never refers to.
func openOn(b []byte, keys *KeyCache, secret []byte, migrations map[uint16]Migration, base *State, scratch *[]byte) (*State, Header, error) {
	h, err := ReadHeader(b)
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w", err)
	}
	if err := h.CheckSchema(); err != nil {
		return nil, h, fmt.Errorf("open config db: %w", err)
	}
	newer := h.Newer()
	if !newer {
		if err := checkMigratable(h.Schema, migrations); err != nil {
			return nil, h, fmt.Errorf("open config db: %w", err)
		}
	}
	hl := h.Len()
	switch total := uint64(hl) + uint64(h.CiphertextLen); {
	case uint64(len(b)) < total:
		return nil, h, fmt.Errorf("open config db: %w: %d bytes, header and ciphertext need %d", ErrTruncated, len(b), total)
	case uint64(len(b)) > total:
		return nil, h, fmt.Errorf("open config db: %w: %d trailing bytes", ErrMalformed, uint64(len(b))-total)
	}
	if len(secret) == 0 {
		return nil, h, fmt.Errorf("open config db: %w", ErrNoSecret)
	}
	aead, err := newAEAD(keys.Key(secret, h.Salt, h.KDF))
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w", err)
	}
	var dst []byte
	if scratch != nil {
		if n := int(h.CiphertextLen) - TagSize; cap(*scratch) < n {
			// Room for the next DBs as well: a reader's DB grows a
			// little with most changes.
			*scratch = make([]byte, 0, n+n/8+4096)
		}
		dst = (*scratch)[:0]
	}
	payload, err := aead.Open(dst, h.Nonce[:], b[hl:], b[:hl])
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w", ErrAuthFailed)
	}
	var d Data
	var texts rawTexts
	schema := h.Schema
	if newer {
		schema = CurrentSchema
		d, texts, err = decodeOn(payload, schema, true, base)
	} else if d, texts, err = decodeOn(payload, schema, false, base); err == nil {
		if schema != CurrentSchema {
			texts = rawTexts{} // migrated users and groups may no longer hold what their texts say
		}
		err = migrate(&d, h.Schema, migrations)
	}
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w: %w", ErrInvalidState, err)
	}
	deriveMembers(&d)
	s, err := buildWith(h.Generation, d, base, base != nil)
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w: %w", ErrInvalidState, err)
	}
	s.raw = keptTexts(texts, s)

	return s, h, nil
}
