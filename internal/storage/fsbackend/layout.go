package fsbackend

import (
	"strings"
	"unicode/utf8"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// On-disk layout (see docs/storage.md for the full description).
//
// A key is cut into pieces, each becoming one path component under the
// bucket directory:
//
//   - a "dir" piece ends at a '/': "photos/" is the directory "photos";
//   - a "cont" piece is a run of bytes cut because its escaped form reached
//     the name-length budget: stored as a directory "<esc>%p";
//   - the last piece (possibly empty) is the object file "<esc>%o";
//   - beside it, "<esc>%v" is the directory of the key's other versions
//     (non-current versions and delete markers, see versions.go).
//
// So key "a" is the file "a%o", key "a/b" is "a/b%o" (both can coexist),
// and the folder marker "dir/" is "dir/%o". Escaping (esc) percent-encodes
// '%', control bytes and a leading '.', so escaped names never contain a
// bare '%' except in the type suffixes, never start with '.', and are
// never "." or "..". An empty dir piece (the middle of "a//b") is "%n".
//
// Cutting depends only on the bytes already seen, so all keys sharing a
// prefix share its pieces: listing walks the tree in byte order and a
// prefix listing starts at the prefix's deepest directory.

const (
	maxKeyLen = 1024
	// pieceBudget is the escaped length at which a piece is cut; an escaped
	// byte is at most 3 bytes and a suffix 2, so names stay <= 245 bytes,
	// below NAME_MAX (255).
	pieceBudget = 240

	suffixObject = "%o"
	suffixCont   = "%p"
	suffixVers   = "%v"
	nameEmptyDir = "%n"

	// bucketMetaName is the bucket metadata file inside a bucket directory.
	// It starts with '.', so it can never be an escaped piece.
	bucketMetaName = ".dgp-bucket.json"
	stagingDir     = ".staging"
	multipartDir   = ".multipart"
)

type pieceKind uint8

const (
	kindObject   pieceKind = iota // the last piece: an object file
	kindCont                      // a cut inside a path segment: a directory
	kindDir                       // a path segment ending in '/': a directory
	kindVersions                  // the versions directory of the last piece
)

// sortRank orders entries with the same piece: an object, then its
// versions (the same key), then a cut (longer keys).
func (k pieceKind) sortRank() int {
	switch k {
	case kindObject:
		return 0
	case kindVersions:
		return 1
	case kindCont:
		return 2
	}
	return 3
}

// escWidth is the escaped length of byte c at position i of a piece.
func escWidth(c byte, i int) int {
	if needsEscape(c, i) {
		return 3
	}
	return 1
}

func needsEscape(c byte, i int) bool {
	return c == '%' || c < 0x20 || c == 0x7f || (i == 0 && c == '.')
}

// nextPiece cuts the first piece off s. For kindDir, piece excludes the
// '/'. The last piece of a key is kindObject with rest "". When s is only a
// prefix of a key, a kindObject result means "incomplete": the key may go on.
func nextPiece(s string) (piece string, kind pieceKind, rest string) {
	w := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' {
			return s[:i], kindDir, s[i+1:]
		}
		w += escWidth(c, i)
		if w > pieceBudget && i+1 < len(s) {
			return s[:i+1], kindCont, s[i+1:]
		}
	}
	return s, kindObject, ""
}

const hexDigits = "0123456789ABCDEF"

// esc escapes one piece into a file name stem.
func esc(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if needsEscape(p[i], i) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if needsEscape(c, i) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unesc reverses esc. It accepts only canonical names (those esc
// produces), so foreign files in the tree are ignored, never misread.
func unesc(name string) (string, bool) {
	if !strings.Contains(name, "%") {
		if name != "" && name[0] == '.' {
			return "", false
		}
		for i := 0; i < len(name); i++ {
			if needsEscape(name[i], i) {
				return "", false
			}
		}
		return name, true
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '%' {
			if needsEscape(c, b.Len()) {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		hi, ok1 := unhex(name[i+1])
		lo, ok2 := unhex(name[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		d := hi<<4 | lo
		if !needsEscape(d, b.Len()) {
			return "", false
		}
		b.WriteByte(d)
		i += 2
	}
	return b.String(), true
}

// pieceName is the file name of a piece.
func pieceName(p string, kind pieceKind) string {
	switch kind {
	case kindObject:
		return esc(p) + suffixObject
	case kindCont:
		return esc(p) + suffixCont
	case kindVersions:
		return esc(p) + suffixVers
	}
	if p == "" {
		return nameEmptyDir
	}
	return esc(p)
}

// parseName decodes a directory entry name into its piece and kind.
// ok is false for names that are not pieces (metadata, foreign files).
func parseName(name string) (piece string, kind pieceKind, ok bool) {
	switch {
	case name == nameEmptyDir:
		return "", kindDir, true
	case strings.HasSuffix(name, suffixObject):
		p, ok := unesc(name[:len(name)-len(suffixObject)])
		return p, kindObject, ok
	case strings.HasSuffix(name, suffixVers):
		p, ok := unesc(name[:len(name)-len(suffixVers)])
		return p, kindVersions, ok
	case strings.HasSuffix(name, suffixCont):
		p, ok := unesc(name[:len(name)-len(suffixCont)])
		return p, kindCont, ok && p != ""
	case name == "":
		return "", 0, false
	}
	p, ok := unesc(name)
	return p, kindDir, ok
}

// keyPath is the path of key's object file relative to the bucket
// directory, as the list of names from the bucket down.
func keyPath(key string) []string {
	names := make([]string, 0, strings.Count(key, "/")+2)
	rest := key
	for {
		p, kind, r := nextPiece(rest)
		names = append(names, pieceName(p, kind))
		if kind == kindObject {
			return names
		}
		rest = r
	}
}

// prefixDir returns the deepest directory (names relative to the bucket,
// and the key prefix it stands for) that holds every key starting with
// prefix.
func prefixDir(prefix string) (names []string, consumed string) {
	rest := prefix
	for {
		p, kind, r := nextPiece(rest)
		if kind == kindObject {
			return names, prefix[:len(prefix)-len(rest)]
		}
		names = append(names, pieceName(p, kind))
		rest = r
	}
}

// validateKey applies S3's key rules plus the checks that keep every key
// inside its bucket directory.
func validateKey(key string) error {
	switch {
	case key == "":
		return s3err.ErrInvalidObjectName.WithMessage("The object key must not be empty.")
	case len(key) > maxKeyLen:
		return s3err.ErrKeyTooLong
	case !utf8.ValidString(key):
		return s3err.ErrInvalidObjectName.WithMessage("The object key is not valid UTF-8.")
	case strings.IndexByte(key, 0) >= 0:
		return s3err.ErrInvalidObjectName.WithMessage("The object key must not contain NUL.")
	case key[0] == '/':
		return s3err.ErrInvalidObjectName.WithMessage("The object key must not start with '/'.")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == ".." {
			return s3err.ErrInvalidObjectName.WithMessage("The object key must not contain '..' segments.")
		}
	}
	return nil
}

// validateBucket rejects bucket names that could address anything but one
// directory directly under the root. The S3 API layer applies S3's naming
// rules; this is defence in depth.
func validateBucket(bucket string) error {
	if bucket == "" || len(bucket) > 255 || bucket[0] == '.' ||
		strings.ContainsAny(bucket, "/\\\x00") || strings.Contains(bucket, "..") {
		return s3err.ErrInvalidBucketName.WithResource(bucket)
	}
	return nil
}
