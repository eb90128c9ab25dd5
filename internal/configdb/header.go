package configdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Errors of the sealed file format. Open and ReadHeader wrap them with
// detail; branch on them with errors.Is.
var (
	// ErrBadMagic: the bytes are not a dgp config DB.
	ErrBadMagic = errors.New("not a dgp config db (bad magic)")
	// ErrTruncated: the file ends before its header or ciphertext does.
	ErrTruncated = errors.New("config db is truncated")
	// ErrMalformed: the header is structurally invalid (bad writer node id,
	// trailing bytes, impossible lengths).
	ErrMalformed = errors.New("config db is malformed")
	// ErrUnsupportedFormat: a container format version, or a schema too old
	// to migrate, that this binary does not read.
	ErrUnsupportedFormat = errors.New("unsupported config db format")
	// ErrSchemaTooNew: the DB was written by a newer binary with a newer
	// schema that this binary cannot read (its min_reader_schema is newer
	// than CurrentSchema); this instance must be upgraded to read it.
	ErrSchemaTooNew = errors.New("config db schema is newer than this binary supports")
	// ErrBadKDFParams: the key derivation parameters are out of bounds
	// (refused before any work, so a hostile file cannot exhaust memory).
	ErrBadKDFParams = errors.New("config db key derivation parameters out of bounds")
)

// Magic starts every sealed config DB.
const Magic = "DGPCFGDB"

// Container formats. Format 1 is written whenever the lowest schema that can
// read the payload is the payload's own schema (every DB of an incompatible
// schema change), so binaries that know only format 1 keep reading those;
// format 2 adds min_reader_schema after the schema, for the DBs of an
// additive schema that older binaries can read.
const (
	// FormatVersion is format 1: min_reader_schema is the schema itself.
	FormatVersion = 1
	// FormatVersionMinReader is format 2: the header carries
	// min_reader_schema, lower than the schema.
	FormatVersionMinReader = 2
)

// MaxWriterNodeLen is the longest writer node id, in bytes.
const MaxWriterNodeLen = 64

// Sizes of the fixed header fields.
const (
	SaltSize  = 16
	NonceSize = 12
	TagSize   = 16

	// fixed header bytes around the node id: magic 8, format 1, schema 2,
	// [min reader schema 2, format 2 only], generation 8, sealed-at 8, node
	// length 1 | KDF 4+4+1, salt, nonce, ciphertext length 4.
	headerPrefixLen = 8 + 1 + 2 + 8 + 8 + 1
	headerSuffixLen = 4 + 4 + 1 + SaltSize + NonceSize + 4
	// minReaderLen is the size of the min_reader_schema field of format 2.
	minReaderLen = 2
	// MinHeaderLen is the size of a format-1 header with an empty writer
	// node id (format 2 adds 2 bytes).
	MinHeaderLen = headerPrefixLen + headerSuffixLen
)

// Bounds on the Argon2id parameters accepted on read and write.
const (
	MaxKDFTime      = 16
	MaxKDFThreads   = 16
	MaxKDFMemoryKiB = 256 * 1024 // 256 MiB
)

// KDFParams are the Argon2id parameters that derive the DB key from the
// bootstrap secret and the salt.
type KDFParams struct {
	Time      uint32 // iterations
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // parallelism
}

// DefaultKDFParams returns the parameters new DBs are sealed with:
// time 1, 64 MiB, 4 threads (the RFC 9106 second recommendation).
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 1, MemoryKiB: 64 * 1024, Threads: 4}
}

// Validate checks the parameters against the bounds: time 1-16, threads
// 1-16, memory from 8 KiB per thread (Argon2's minimum) to 256 MiB.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxKDFTime:
		return fmt.Errorf("%w: time %d not in 1-%d", ErrBadKDFParams, p.Time, MaxKDFTime)
	case p.Threads < 1 || p.Threads > MaxKDFThreads:
		return fmt.Errorf("%w: threads %d not in 1-%d", ErrBadKDFParams, p.Threads, MaxKDFThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxKDFMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB not in %d-%d KiB", ErrBadKDFParams, p.MemoryKiB, 8*uint32(p.Threads), MaxKDFMemoryKiB)
	}
	return nil
}

// Header is the clear (but authenticated) header of a sealed config DB.
// Everything in it can be read without the secret.
type Header struct {
	// FormatVersion is FormatVersion (1) when MinReaderSchema equals
	// Schema, FormatVersionMinReader (2) when it is lower.
	FormatVersion uint8
	// Schema is the schema the payload is encoded in.
	Schema uint16
	// MinReaderSchema is the lowest schema a binary must support to read
	// the payload (decoding it as its own schema, ignoring the fields it
	// does not know): Schema itself for a change older binaries cannot
	// read, lower for an additive one. Format 1 stores it implicitly.
	MinReaderSchema uint16
	Generation      uint64
	// SealedAt is when the writer sealed the DB (millisecond precision,
	// UTC); zero when unknown.
	SealedAt   time.Time
	WriterNode string
	KDF        KDFParams
	Salt       [SaltSize]byte
	Nonce      [NonceSize]byte
	// CiphertextLen is the length of the ciphertext (with its tag) that
	// follows the header.
	CiphertextLen uint32
}

// Len returns the encoded size of the header in bytes.
func (h Header) Len() int {
	if h.FormatVersion == FormatVersionMinReader {
		return MinHeaderLen + minReaderLen + len(h.WriterNode)
	}
	return MinHeaderLen + len(h.WriterNode)
}

// CheckSchema reports whether this binary can read the header's payload:
// ErrSchemaTooNew when its min_reader_schema is newer than CurrentSchema
// (the message says to upgrade). A newer schema that this binary can read
// (an additive change, see Newer) passes.
func (h Header) CheckSchema() error {
	switch {
	case int(h.MinReaderSchema) <= CurrentSchema:
		return nil
	case h.MinReaderSchema == h.Schema:
		return fmt.Errorf("%w: the db has schema %d, this binary supports schema %d at most: upgrade this instance",
			ErrSchemaTooNew, h.Schema, CurrentSchema)
	default:
		return fmt.Errorf("%w: the db has schema %d, readable from schema %d, this binary supports schema %d at most: upgrade this instance",
			ErrSchemaTooNew, h.Schema, h.MinReaderSchema, CurrentSchema)
	}
}

// Newer reports whether the payload's schema is newer than this binary's
// (CurrentSchema). When CheckSchema passes as well, the DB is readable but
// holds fields this binary does not know: it may be applied and enforced,
// but never rewritten by this binary (a rewrite would drop those fields).
func (h Header) Newer() bool { return int(h.Schema) > CurrentSchema }

// appendHeader appends the encoding of h to b.
func appendHeader(b []byte, h Header) []byte {
	b = append(b, Magic...)
	b = append(b, h.FormatVersion)
	b = binary.BigEndian.AppendUint16(b, h.Schema)
	if h.FormatVersion == FormatVersionMinReader {
		b = binary.BigEndian.AppendUint16(b, h.MinReaderSchema)
	}
	b = binary.BigEndian.AppendUint64(b, h.Generation)
	var ms int64
	if !h.SealedAt.IsZero() {
		ms = h.SealedAt.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	b = append(b, byte(len(h.WriterNode)))
	b = append(b, h.WriterNode...)
	b = binary.BigEndian.AppendUint32(b, h.KDF.Time)
	b = binary.BigEndian.AppendUint32(b, h.KDF.MemoryKiB)
	b = append(b, h.KDF.Threads)
	b = append(b, h.Salt[:]...)
	b = append(b, h.Nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, h.CiphertextLen)
	return b
}

// validWriterNode checks a writer node id: at most 64 bytes of UTF-8
// without control characters.
func validWriterNode(s string) error {
	if len(s) > MaxWriterNodeLen {
		return fmt.Errorf("writer node id is %d bytes, at most %d allowed", len(s), MaxWriterNodeLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("writer node id is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("writer node id contains a control character")
		}
	}
	return nil
}

// ReadHeader parses the clear header at the start of b; b may be the whole
// file or just its first bytes. No secret is needed, so a binary can learn
// the schema and generation of a DB it cannot (yet) read. It checks the
// magic, the format version, the min_reader_schema (format 2: at least 1
// and lower than the schema), the writer node id and the KDF bounds; it
// does not check the schema against this binary (see Header.CheckSchema)
// nor authenticate anything.
func ReadHeader(b []byte) (Header, error) {
	var h Header
	truncated := func(need int) (Header, error) {
		return h, fmt.Errorf("%w: %d bytes, the header alone needs %d", ErrTruncated, len(b), need)
	}
	if len(b) < len(Magic) {
		if string(b) != Magic[:len(b)] {
			return h, ErrBadMagic
		}
		return truncated(MinHeaderLen)
	}
	if string(b[:len(Magic)]) != Magic {
		return h, ErrBadMagic
	}
	if len(b) < len(Magic)+1 {
		return truncated(MinHeaderLen)
	}
	h.FormatVersion = b[8]
	extra := 0 // bytes format 2 adds before the generation
	switch h.FormatVersion {
	case FormatVersion:
	case FormatVersionMinReader:
		extra = minReaderLen
	default:
		return h, fmt.Errorf("%w: container format %d, this binary reads formats %d and %d",
			ErrUnsupportedFormat, h.FormatVersion, FormatVersion, FormatVersionMinReader)
	}
	minLen := MinHeaderLen + extra
	if len(b) < headerPrefixLen+extra {
		return truncated(minLen)
	}
	h.Schema = binary.BigEndian.Uint16(b[9:])
	h.MinReaderSchema = h.Schema
	if extra > 0 {
		h.MinReaderSchema = binary.BigEndian.Uint16(b[11:])
		if h.MinReaderSchema == 0 || h.MinReaderSchema >= h.Schema {
			return h, fmt.Errorf("%w: min reader schema %d with schema %d (format 2 is written only for a lower one, at least 1)",
				ErrMalformed, h.MinReaderSchema, h.Schema)
		}
	}
	p := 11 + extra
	h.Generation = binary.BigEndian.Uint64(b[p:])
	switch ms := int64(binary.BigEndian.Uint64(b[p+8:])); {
	case ms < 0:
		return h, fmt.Errorf("%w: negative sealing time", ErrMalformed)
	case ms > 0:
		h.SealedAt = time.UnixMilli(ms).UTC()
	}
	n := int(b[p+16])
	if n > MaxWriterNodeLen {
		return h, fmt.Errorf("%w: writer node id length %d exceeds %d", ErrMalformed, n, MaxWriterNodeLen)
	}
	if len(b) < minLen+n {
		return truncated(minLen + n)
	}
	p = headerPrefixLen + extra
	h.WriterNode = string(b[p : p+n])
	if err := validWriterNode(h.WriterNode); err != nil {
		return h, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	p += n
	h.KDF.Time = binary.BigEndian.Uint32(b[p:])
	h.KDF.MemoryKiB = binary.BigEndian.Uint32(b[p+4:])
	h.KDF.Threads = b[p+8]
	p += 9
	copy(h.Salt[:], b[p:])
	p += SaltSize
	copy(h.Nonce[:], b[p:])
	p += NonceSize
	h.CiphertextLen = binary.BigEndian.Uint32(b[p:])
	if err := h.KDF.Validate(); err != nil {
		return h, err
	}
	if h.CiphertextLen < TagSize {
		return h, fmt.Errorf("%w: ciphertext length %d is shorter than the %d-byte tag", ErrMalformed, h.CiphertextLen, TagSize)
	}
	return h, nil
}
