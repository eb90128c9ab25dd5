package configdb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// decodeData decodes a current-schema payload strictly: unknown fields and
// trailing data are errors (a field this binary does not know would be lost
// when it rewrites the DB, so new fields come with a new schema). Groups
// have no member_ids since schema 2 (membership is stored on the users;
// deriveMembers fills Group.MemberIDs in after decoding).
//
// It accepts exactly what encoding/json (with DisallowUnknownFields, into a
// Data) accepts, with the same result: field names match case-insensitively
// when they do not match exactly, null leaves a field as it is (and empties
// a list or the revocation map), a repeated key decodes over the earlier
// value, invalid UTF-8 and lone surrogates become U+FFFD. It is a
// hand-written decoder for the one shape of the state because the config
// DB is decoded on every pull: it makes one copy of the payload as a string
// and slices every unescaped string out of it, and packs the small lists
// (rules, actions, resources, ids) into shared blocks, so a DB of n users
// costs a few dozen allocations instead of dozens per user.
func decodeData(payload []byte) (Data, error) { return decodePayload(payload, CurrentSchema, false) }

// decodePayload is decodeData for the form of the given schema (1: groups
// carry member_ids; 2: they do not), skipping the members it does not know
// when lenient (a newer, additive schema read as CurrentSchema: see Open)
// instead of refusing them.
func decodePayload(payload []byte, schema uint16, lenient bool) (Data, error) {
	d := decoder{buf: payload, str: string(payload), schema: schema, lenient: lenient}
	var out Data
	d.ws()
	if err := d.data(&out); err != nil {
		return Data{}, fmt.Errorf("decode state: %w", err)
	}
	d.ws()
	if d.pos < len(d.buf) {
		return Data{}, errors.New("decode state: trailing data")
	}
	return out, nil
}

// decoder reads one JSON document. Scratch lists and blocks are reused
// across the document; lists handed out are capped slices of blocks, so
// appending to them never writes into a neighbour.
type decoder struct {
	buf []byte
	str string // buf as a string: unescaped strings are sliced from it
	// copyStrings: str is not set, each string is copied from buf (a
	// payload mostly reused: copying it whole would cost more).
	copyStrings bool
	pos         int
	// schema is the schema whose form is decoded (decodePayload).
	schema uint16
	// lenient skips unknown members instead of refusing them.
	lenient bool

	// reuse, when set, is the State whose users' texts users looks for
	// (decodeOn); texts collects the texts of the users decoded, and
	// usersSeen says the "users" key was met.
	reuse     *State
	texts     []string
	usersSeen bool
	// reuseGroups, groupTexts and groupsSeen are the same for groups
	// (decodeOn records no group texts before schema 2).
	reuseGroups *State
	groupTexts  []string
	groupsSeen  bool

	strScratch  []string
	actScratch  []iam.Action
	ruleScratch []iam.Rule
	strBlock    block[string]
	actBlock    block[iam.Action]
	ruleBlock   block[iam.Rule]
}

// block hands out capped sub-slices of a larger allocation. Blocks start
// small and double up to blockLen, so a small DB does not allocate (and
// clear) blocks it leaves mostly empty.
type block[T any] struct{ buf []T }

const (
	blockLen      = 1024
	firstBlockLen = 32
)

// copyOf returns a copy of src in the block (a new, non-nil, empty slice
// when src is empty, as encoding/json gives for []).
func (b *block[T]) copyOf(src []T) []T {
	if len(src) == 0 {
		return make([]T, 0)
	}
	if len(src) > cap(b.buf)-len(b.buf) {
		if len(src) > blockLen/4 {
			return append([]T(nil), src...)
		}
		b.buf = make([]T, 0, min(blockLen, max(firstBlockLen, 2*cap(b.buf), len(src))))
	}
	n := len(b.buf)
	b.buf = append(b.buf, src...)
	return b.buf[n:len(b.buf):len(b.buf)]
}

func (d *decoder) syntaxErr(what string) error {
	if d.pos >= len(d.buf) {
		return fmt.Errorf("invalid JSON: unexpected end of input, want %s", what)
	}
	return fmt.Errorf("invalid JSON at offset %d: unexpected %q, want %s", d.pos, d.buf[d.pos], what)
}

func (d *decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0
}

// literal consumes the literal word (true, false, null) at pos.
func (d *decoder) literal(word string) error {
	if rest := d.buf[d.pos:]; len(rest) < len(word) || string(rest[:len(word)]) != word {
		return d.syntaxErr(word)
	}
	d.pos += len(word)
	return nil
}

// typeErr reports a value of the wrong kind. It checks the value's syntax
// first, so a syntax error is reported as such.
func (d *decoder) typeErr(want string) error {
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	return fmt.Errorf("cannot decode %.40s into %s", d.buf[start:d.pos], want)
}

// beginObject consumes '{'. isNull reports a null instead.
func (d *decoder) beginObject(want string) (isNull bool, err error) {
	switch d.peek() {
	case '{':
		d.pos++
		return false, nil
	case 'n':
		return true, d.literal("null")
	}
	return false, d.typeErr(want)
}

// nextKey moves to the next member of an object whose '{' was consumed and
// returns its key, leaving pos at the value; more is false after the '}'.
func (d *decoder) nextKey(first *bool) (key string, more bool, err error) {
	d.ws()
	switch c := d.peek(); {
	case c == '}' && *first:
		d.pos++
		return "", false, nil
	case *first:
	case c == '}':
		d.pos++
		return "", false, nil
	case c == ',':
		d.pos++
		d.ws()
	default:
		return "", false, d.syntaxErr("',' or '}'")
	}
	*first = false
	if d.peek() != '"' {
		return "", false, d.syntaxErr("a member name")
	}
	if key, err = d.string(); err != nil {
		return "", false, err
	}
	d.ws()
	if d.peek() != ':' {
		return "", false, d.syntaxErr("':'")
	}
	d.pos++
	d.ws()
	return key, true, nil
}

// beginArray consumes '['. isNull reports a null instead.
func (d *decoder) beginArray(want string) (isNull bool, err error) {
	switch d.peek() {
	case '[':
		d.pos++
		return false, nil
	case 'n':
		return true, d.literal("null")
	}
	return false, d.typeErr(want)
}

// nextElem moves to the next element of an array whose '[' was consumed,
// leaving pos at the value; more is false after the ']'.
func (d *decoder) nextElem(first *bool) (more bool, err error) {
	d.ws()
	switch c := d.peek(); {
	case c == ']' && *first:
		d.pos++
		return false, nil
	case *first:
	case c == ']':
		d.pos++
		return false, nil
	case c == ',':
		d.pos++
		d.ws()
	default:
		return false, d.syntaxErr("',' or ']'")
	}
	*first = false
	return true, nil
}

// field returns the name in names that key designates: the exact match, or
// else the first case-insensitive one (as encoding/json matches names). An
// unknown key is an error, or, when the decoder is lenient, skipped with its
// value: field then returns "" and pos is after the value.
func (d *decoder) field(key string, names ...string) (string, error) {
	name, err := field(key, names...)
	if err != nil && d.lenient {
		return "", d.skip()
	}
	return name, err
}

func field(key string, names ...string) (string, error) {
	for _, n := range names {
		if key == n {
			return n, nil
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("json: unknown field %q", key)
}

// sub returns buf[start:end] as a string: sliced from str, or a copy.
func (d *decoder) sub(start, end int) string {
	if d.copyStrings {
		return string(d.buf[start:end])
	}
	return d.str[start:end]
}

// string reads the JSON string at pos. An unescaped, valid UTF-8 string is
// sliced from d.str without allocating (unless copyStrings).
func (d *decoder) string() (string, error) {
	start := d.pos + 1 // after the quote
	i := start
	for ; i < len(d.buf); i++ {
		c := d.buf[i]
		if c == '"' {
			d.pos = i + 1
			return d.sub(start, i), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	// Escapes, control characters or non-ASCII: find the end, checking
	// the syntax, then unquote.
	escaped := false
	for ; i < len(d.buf); i++ {
		switch c := d.buf[i]; {
		case c == '"':
			raw := d.buf[start:i]
			d.pos = i + 1
			if !escaped && utf8.Valid(raw) {
				return d.sub(start, i), nil
			}
			return unquote(raw), nil
		case c < 0x20:
			d.pos = i
			return "", d.syntaxErr("a string character (control characters must be escaped)")
		case c == '\\':
			escaped = true
			if i+1 >= len(d.buf) {
				d.pos = len(d.buf)
				return "", d.syntaxErr("an escape")
			}
			switch d.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if getu4(d.buf[i:]) < 0 {
					d.pos = i
					return "", d.syntaxErr(`\u and four hex digits`)
				}
				i += 5
			default:
				d.pos = i + 1
				return "", d.syntaxErr("a valid escape")
			}
		}
	}
	d.pos = len(d.buf)
	return "", d.syntaxErr("the end of the string")
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	r, err := strconv.ParseUint(string(s[2:6]), 16, 32)
	if err != nil {
		return -1
	}
	return rune(r)
}

// unquote decodes the body of a syntactically valid JSON string the way
// encoding/json does: invalid UTF-8 and unpaired surrogates become U+FFFD.
func unquote(s []byte) string {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				b, r = append(b, '\b'), r+2
			case 'f':
				b, r = append(b, '\f'), r+2
			case 'n':
				b, r = append(b, '\n'), r+2
			case 'r':
				b, r = append(b, '\r'), r+2
			case 't':
				b, r = append(b, '\t'), r+2
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						b, r = utf8.AppendRune(b, dec), r+6
						break
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
			default: // " \ /
				b, r = append(b, e), r+2
			}
		case c < utf8.RuneSelf:
			b, r = append(b, c), r+1
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b, r = utf8.AppendRune(b, rr), r+size
		}
	}
	return string(b)
}

// maxDepth bounds the nesting of values skip accepts (as encoding/json
// does), so a hostile document cannot exhaust the stack.
const maxDepth = 10000

// skip consumes any JSON value, checking its syntax.
func (d *decoder) skip() error { return d.skipDepth(0) }

func (d *decoder) skipDepth(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("invalid JSON at offset %d: nested deeper than %d", d.pos, maxDepth)
	}
	switch c := d.peek(); {
	case c == '"':
		_, err := d.string()
		return err
	case c == '{':
		d.pos++
		for first := true; ; {
			_, more, err := d.nextKey(&first)
			if err != nil || !more {
				return err
			}
			if err := d.skipDepth(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		d.pos++
		for first := true; ; {
			more, err := d.nextElem(&first)
			if err != nil || !more {
				return err
			}
			if err := d.skipDepth(depth + 1); err != nil {
				return err
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	}
	return d.syntaxErr("a value")
}

// number consumes a JSON number and returns its text.
func (d *decoder) number() ([]byte, error) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.peek() == '-' {
		d.pos++
	}
	switch c := d.peek(); {
	case c == '0':
		d.pos++
	case c >= '1' && c <= '9':
		digits()
	default:
		return nil, d.syntaxErr("a digit")
	}
	if d.peek() == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.syntaxErr("a digit")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.pos++
		if c := d.peek(); c == '+' || c == '-' {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.syntaxErr("a digit")
		}
	}
	return d.buf[start:d.pos], nil
}

// stringInto decodes a string into *dst; null leaves it unchanged.
func (d *decoder) stringInto(dst *string) error {
	switch d.peek() {
	case '"':
		s, err := d.string()
		*dst = s
		return err
	case 'n':
		return d.literal("null")
	}
	return d.typeErr("a string")
}

// boolInto decodes a boolean into *dst; null leaves it unchanged.
func (d *decoder) boolInto(dst *bool) error {
	switch d.peek() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.typeErr("a boolean")
}

// intInto decodes an integer into *dst; null leaves it unchanged. A
// fraction, an exponent or an out-of-range value is an error.
func (d *decoder) intInto(dst *int) error {
	switch c := d.peek(); {
	case c == 'n':
		return d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		text, err := d.number()
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(string(text), 10, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("cannot decode number %s into an int", text)
		}
		*dst = int(n)
		return nil
	}
	return d.typeErr("an integer")
}

// timeInto decodes a time into *dst with time.Time's own UnmarshalJSON
// (RFC 3339 in a JSON string; null leaves it unchanged).
func (d *decoder) timeInto(dst *time.Time) error {
	start := d.pos
	if d.peek() == '"' {
		if _, err := d.string(); err != nil {
			return err
		}
	} else if err := d.skip(); err != nil {
		return err
	}
	return dst.UnmarshalJSON(d.buf[start:d.pos])
}

// stringList decodes a list of strings over cur (as encoding/json decodes
// into an existing slice: null empties it, elements overwrite).
func (d *decoder) stringList(cur []string) ([]string, error) {
	if isNull, err := d.beginArray("a list of strings"); isNull || err != nil {
		return nil, err
	}
	list := append(d.strScratch[:0], cur...)
	n := 0
	for first := true; ; n++ {
		more, err := d.nextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == len(list) {
			list = append(list, "")
		}
		if err := d.stringInto(&list[n]); err != nil {
			return nil, fmt.Errorf("[%d]: %w", n, err)
		}
	}
	d.strScratch = list
	return d.strBlock.copyOf(list[:n]), nil
}

// actionList is stringList for actions; the known ones are interned.
func (d *decoder) actionList(cur []iam.Action) ([]iam.Action, error) {
	if isNull, err := d.beginArray("a list of actions"); isNull || err != nil {
		return nil, err
	}
	list := append(d.actScratch[:0], cur...)
	n := 0
	for first := true; ; n++ {
		more, err := d.nextElem(&first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if n == len(list) {
			list = append(list, "")
		}
		s := string(list[n])
		if err := d.stringInto(&s); err != nil {
			return nil, fmt.Errorf("[%d]: %w", n, err)
		}
		list[n] = internAction(s)
	}
	d.actScratch = list
	return d.actBlock.copyOf(list[:n]), nil
}

func internAction(s string) iam.Action {
	for _, a := range [...]iam.Action{iam.ActionRead, iam.ActionWrite, iam.ActionDelete, iam.ActionList, iam.ActionAdmin, iam.ActionAll} {
		if s == string(a) {
			return a
		}
	}
	return iam.Action(s)
}
