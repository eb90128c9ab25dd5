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
}

// Seal encodes s and encrypts it with AES-256-GCM under
// Argon2id(secret, salt), with a fresh random nonce every time and the
// whole header as associated data. The result is the complete file (see
// docs/config-db-format.md).
func Seal(s *State, opts SealOptions, keys *KeyCache, secret []byte) ([]byte, error) {
	payload, err := encodeData(s)
	if err != nil {
		return nil, fmt.Errorf("seal config db: %w", err)
	}
	return sealPayload(payload, CurrentSchema, CurrentSchema, s.generation, opts, keys, secret)
}

func encodeData(s *State) ([]byte, error) {
	b, err := json.Marshal(Data{Users: s.users, Groups: s.groups, Providers: s.providers, Revocations: s.revocations})
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

func open(b []byte, keys *KeyCache, secret []byte, migrations map[uint16]Migration) (*State, Header, error) {
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
	payload, err := aead.Open(nil, h.Nonce[:], b[hl:], b[:hl])
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w", ErrAuthFailed)
	}
	var d Data
	if newer {
		d, err = decodePayload(payload, true)
	} else if payload, err = migrate(payload, h.Schema, migrations); err == nil {
		d, err = decodePayload(payload, false)
	}
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w: %w", ErrInvalidState, err)
	}
	s, err := build(h.Generation, d, nil)
	if err != nil {
		return nil, h, fmt.Errorf("open config db: %w: %w", ErrInvalidState, err)
	}
	return s, h, nil
}
