// Package jsonscan reads a JSON document in place, value by value, for
// decoders written by hand for one shape of document (the config DB's
// state, a bucket event): the caller walks the members it knows and skips
// the rest, and strings without escapes are sliced from the input instead
// of copied. What it accepts, and the strings it returns, are what
// encoding/json accepts and returns: the same grammar, the same nesting
// limit, invalid UTF-8 and unpaired surrogates as U+FFFD.
package jsonscan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner reads the JSON document in Buf from Pos.
type Scanner struct {
	Buf []byte
	// Text is Buf as a string, which unescaped strings are sliced from;
	// when it is empty, each string is copied from Buf instead (for a
	// document mostly reused or skipped, copying it whole would cost
	// more).
	Text string
	// Pos is the offset of the next byte to read.
	Pos int
	// depth is the number of objects and arrays open at Pos, so that the
	// document's nesting is bounded as encoding/json bounds it wherever
	// Skip is called from.
	depth int
}

// enter consumes the '{' or '[' at Pos, one level deeper.
func (s *Scanner) enter() error {
	if s.depth >= MaxDepth {
		return fmt.Errorf("invalid JSON at offset %d: nested deeper than %d", s.Pos, MaxDepth)
	}
	s.depth++
	s.Pos++
	return nil
}

// SyntaxErr reports what was wanted at Pos.
func (s *Scanner) SyntaxErr(what string) error {
	if s.Pos >= len(s.Buf) {
		return fmt.Errorf("invalid JSON: unexpected end of input, want %s", what)
	}
	return fmt.Errorf("invalid JSON at offset %d: unexpected %q, want %s", s.Pos, s.Buf[s.Pos], what)
}

func (s *Scanner) SkipSpace() {
	for s.Pos < len(s.Buf) {
		switch s.Buf[s.Pos] {
		case ' ', '\t', '\n', '\r':
			s.Pos++
		default:
			return
		}
	}
}

func (s *Scanner) Peek() byte {
	if s.Pos < len(s.Buf) {
		return s.Buf[s.Pos]
	}
	return 0
}

// Literal consumes the literal word (true, false, null) at Pos.
func (s *Scanner) Literal(word string) error {
	if rest := s.Buf[s.Pos:]; len(rest) < len(word) || string(rest[:len(word)]) != word {
		return s.SyntaxErr(word)
	}
	s.Pos += len(word)
	return nil
}

// TypeErr reports a value of the wrong kind. It checks the value's syntax
// first, so a syntax error is reported as such.
func (s *Scanner) TypeErr(want string) error {
	start := s.Pos
	if err := s.Skip(); err != nil {
		return err
	}
	return fmt.Errorf("cannot decode %.40s into %s", s.Buf[start:s.Pos], want)
}

// BeginObject consumes '{'. isNull reports a null instead.
func (s *Scanner) BeginObject(want string) (isNull bool, err error) {
	switch s.Peek() {
	case '{':
		return false, s.enter()
	case 'n':
		return true, s.Literal("null")
	}
	return false, s.TypeErr(want)
}

// NextKey moves to the next member of an object whose '{' was consumed and
// returns its key, leaving Pos at the value; more is false after the '}'.
func (s *Scanner) NextKey(first *bool) (key string, more bool, err error) {
	s.SkipSpace()
	switch c := s.Peek(); {
	case c == '}' && *first:
		s.Pos++
		s.depth--
		return "", false, nil
	case *first:
	case c == '}':
		s.Pos++
		s.depth--
		return "", false, nil
	case c == ',':
		s.Pos++
		s.SkipSpace()
	default:
		return "", false, s.SyntaxErr("',' or '}'")
	}
	*first = false
	if s.Peek() != '"' {
		return "", false, s.SyntaxErr("a member name")
	}
	if key, err = s.ReadString(); err != nil {
		return "", false, err
	}
	s.SkipSpace()
	if s.Peek() != ':' {
		return "", false, s.SyntaxErr("':'")
	}
	s.Pos++
	s.SkipSpace()
	return key, true, nil
}

// BeginArray consumes '['. isNull reports a null instead.
func (s *Scanner) BeginArray(want string) (isNull bool, err error) {
	switch s.Peek() {
	case '[':
		return false, s.enter()
	case 'n':
		return true, s.Literal("null")
	}
	return false, s.TypeErr(want)
}

// NextElem moves to the next element of an array whose '[' was consumed,
// leaving Pos at the value; more is false after the ']'.
func (s *Scanner) NextElem(first *bool) (more bool, err error) {
	s.SkipSpace()
	switch c := s.Peek(); {
	case c == ']' && *first:
		s.Pos++
		s.depth--
		return false, nil
	case *first:
	case c == ']':
		s.Pos++
		s.depth--
		return false, nil
	case c == ',':
		s.Pos++
		s.SkipSpace()
	default:
		return false, s.SyntaxErr("',' or ']'")
	}
	*first = false
	return true, nil
}

// Sub returns Buf[start:end] as a string: sliced from Text, or a copy
// when Text is empty.
func (s *Scanner) Sub(start, end int) string {
	if s.Text == "" {
		return string(s.Buf[start:end])
	}
	return s.Text[start:end]
}

// ReadString reads the JSON string at Pos. An unescaped, valid UTF-8
// string is sliced from Text without allocating (unless Text is empty).
func (s *Scanner) ReadString() (string, error) {
	start := s.Pos + 1 // after the quote
	i := start
	for ; i < len(s.Buf); i++ {
		c := s.Buf[i]
		if c == '"' {
			s.Pos = i + 1
			return s.Sub(start, i), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	// Escapes, control characters or non-ASCII: find the end, checking
	// the syntax, then unquote.
	escaped := false
	for ; i < len(s.Buf); i++ {
		switch c := s.Buf[i]; {
		case c == '"':
			raw := s.Buf[start:i]
			s.Pos = i + 1
			if !escaped && utf8.Valid(raw) {
				return s.Sub(start, i), nil
			}
			return Unquote(raw), nil
		case c < 0x20:
			s.Pos = i
			return "", s.SyntaxErr("a string character (control characters must be escaped)")
		case c == '\\':
			escaped = true
			if i+1 >= len(s.Buf) {
				s.Pos = len(s.Buf)
				return "", s.SyntaxErr("an escape")
			}
			switch s.Buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if getu4(s.Buf[i:]) < 0 {
					s.Pos = i
					return "", s.SyntaxErr(`\u and four hex digits`)
				}
				i += 5
			default:
				s.Pos = i + 1
				return "", s.SyntaxErr("a valid escape")
			}
		}
	}
	s.Pos = len(s.Buf)
	return "", s.SyntaxErr("the end of the string")
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

// Unquote decodes the body of a syntactically valid JSON string the way
// encoding/json does: invalid UTF-8 and unpaired surrogates become U+FFFD.
func Unquote(s []byte) string {
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

// MaxDepth bounds the nesting of objects and arrays a Scanner accepts (as
// encoding/json does), so a hostile document cannot exhaust the stack.
const MaxDepth = 10000

// Skip consumes any JSON value, checking its syntax.
func (s *Scanner) Skip() error {
	switch c := s.Peek(); {
	case c == '"':
		_, err := s.ReadString()
		return err
	case c == '{':
		if err := s.enter(); err != nil {
			return err
		}
		for first := true; ; {
			_, more, err := s.NextKey(&first)
			if err != nil || !more {
				return err
			}
			if err := s.Skip(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := s.enter(); err != nil {
			return err
		}
		for first := true; ; {
			more, err := s.NextElem(&first)
			if err != nil || !more {
				return err
			}
			if err := s.Skip(); err != nil {
				return err
			}
		}
	case c == 't':
		return s.Literal("true")
	case c == 'f':
		return s.Literal("false")
	case c == 'n':
		return s.Literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := s.Number()
		return err
	}
	return s.SyntaxErr("a value")
}

// Number consumes a JSON number and returns its text.
func (s *Scanner) Number() ([]byte, error) {
	start := s.Pos
	digits := func() int {
		n := 0
		for s.Pos < len(s.Buf) && s.Buf[s.Pos] >= '0' && s.Buf[s.Pos] <= '9' {
			s.Pos++
			n++
		}
		return n
	}
	if s.Peek() == '-' {
		s.Pos++
	}
	switch c := s.Peek(); {
	case c == '0':
		s.Pos++
	case c >= '1' && c <= '9':
		digits()
	default:
		return nil, s.SyntaxErr("a digit")
	}
	if s.Peek() == '.' {
		s.Pos++
		if digits() == 0 {
			return nil, s.SyntaxErr("a digit")
		}
	}
	if c := s.Peek(); c == 'e' || c == 'E' {
		s.Pos++
		if c := s.Peek(); c == '+' || c == '-' {
			s.Pos++
		}
		if digits() == 0 {
			return nil, s.SyntaxErr("a digit")
		}
	}
	return s.Buf[start:s.Pos], nil
}

// StringInto decodes a string into *dst; null leaves it unchanged.
func (s *Scanner) StringInto(dst *string) error {
	switch s.Peek() {
	case '"':
		v, err := s.ReadString()
		*dst = v
		return err
	case 'n':
		return s.Literal("null")
	}
	return s.TypeErr("a string")
}

// BoolInto decodes a boolean into *dst; null leaves it unchanged.
func (s *Scanner) BoolInto(dst *bool) error {
	switch s.Peek() {
	case 't':
		*dst = true
		return s.Literal("true")
	case 'f':
		*dst = false
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	}
	return s.TypeErr("a boolean")
}

// IntInto decodes an integer into *dst; null leaves it unchanged. A
// fraction, an exponent or an out-of-range value is an error.
func (s *Scanner) IntInto(dst *int) error {
	switch c := s.Peek(); {
	case c == 'n':
		return s.Literal("null")
	case c == '-' || c >= '0' && c <= '9':
		text, err := s.Number()
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
	return s.TypeErr("an integer")
}

// TimeInto decodes a time into *dst with time.Time's own UnmarshalJSON
// (RFC 3339 in a JSON string; null leaves it unchanged).
func (s *Scanner) TimeInto(dst *time.Time) error {
	start := s.Pos
	if s.Peek() == '"' {
		if _, err := s.ReadString(); err != nil {
			return err
		}
	} else if err := s.Skip(); err != nil {
		return err
	}
	return dst.UnmarshalJSON(s.Buf[start:s.Pos])
}

// Members reads the object at Pos for a decoder that reads a few members
// in place and leaves everything unusual to encoding/json. A member named
// exactly as one of names (at most 64) is read by read, given the name,
// with Pos at its value; any other member is skipped, unless its name
// matches one of names only in another case (encoding/json would decode
// it into that field). It reports false, leaving Pos anywhere, for
// anything but an object whose members are each read (read reporting
// true) or skipped, once each, without error.
func (s *Scanner) Members(names []string, read func(name string) bool) bool {
	if s.Peek() != '{' || s.enter() != nil {
		return false
	}
	var seen uint64 // of names, by index
	for first := true; ; {
		key, more, err := s.NextKey(&first)
		if err != nil {
			return false
		}
		if !more {
			return true
		}
		i := exactName(key, names)
		switch {
		case i >= 0:
			if seen&(1<<i) != 0 || !read(names[i]) {
				return false
			}
			seen |= 1 << i
		case foldsTo(key, names):
			return false
		default:
			if s.Skip() != nil {
				return false
			}
		}
	}
}

func exactName(key string, names []string) int {
	for i, n := range names {
		if key == n {
			return i
		}
	}
	return -1
}

func foldsTo(key string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// Elements reads the array at Pos (not null, not another value), each
// element by read, with Pos at it. It reports false, leaving Pos anywhere,
// unless every element is read (read reporting true) without error.
func (s *Scanner) Elements(read func() bool) bool {
	if s.Peek() != '[' || s.enter() != nil {
		return false
	}
	for first := true; ; {
		more, err := s.NextElem(&first)
		if err != nil {
			return false
		}
		if !more {
			return true
		}
		if !read() {
			return false
		}
	}
}

// OnlyString reads the string at Pos; false for anything else (null
// included) or a syntax error.
func (s *Scanner) OnlyString() (string, bool) {
	if s.Peek() != '"' {
		return "", false
	}
	v, err := s.ReadString()
	return v, err == nil
}
