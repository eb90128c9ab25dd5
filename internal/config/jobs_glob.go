package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Glob is a compiled key pattern of include_globs / exclude_globs. It is
// matched against the whole object key, '/' separating path segments. A
// single star matches any run of characters other than '/', '?' one
// character other than '/', [abc], [a-z] and [^a-z] one character of (or
// not of) a class, and a double star any run of characters,
// '/' included; a double star followed by '/' also matches nothing, so
// "**/*.zip" matches "a.zip" and "x/y/a.zip". A backslash escapes the next
// character. Without double stars this is path.Match's syntax and meaning.
type Glob struct {
	pattern string
	re      *regexp.Regexp
}

// CompileGlob compiles a pattern, or says what is wrong with it.
func CompileGlob(pattern string) (Glob, error) {
	if pattern == "" {
		return Glob{}, errors.New("empty pattern")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				i++
				if i+1 < len(pattern) && pattern[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '\\':
			if i+1 == len(pattern) {
				return Glob{}, errors.New(`ends with an unescaped '\'`)
			}
			i++
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		case '[':
			class, n, err := globClass(pattern[i:])
			if err != nil {
				return Glob{}, err
			}
			b.WriteString(class)
			i += n - 1
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Glob{}, fmt.Errorf("cannot compile: %v", err)
	}
	return Glob{pattern: pattern, re: re}, nil
}

// globClass translates the character class at the start of s ("[...]")
// and returns it with the number of bytes it took.
func globClass(s string) (string, int, error) {
	var b strings.Builder
	b.WriteString("[")
	i := 1
	if i < len(s) && (s[i] == '^' || s[i] == '!') {
		b.WriteString("^")
		i++
	}
	items := 0
	for i < len(s) && s[i] != ']' {
		lo, n, err := classChar(s[i:])
		if err != nil {
			return "", 0, err
		}
		i += n
		b.WriteString(classLiteral(lo))
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, n, err := classChar(s[i+1:])
			if err != nil {
				return "", 0, err
			}
			if hi < lo {
				return "", 0, fmt.Errorf("bad range %c-%c in a character class", lo, hi)
			}
			i += 1 + n
			b.WriteString("-")
			b.WriteString(classLiteral(hi))
		}
		items++
	}
	if i >= len(s) {
		return "", 0, errors.New("unclosed character class '['")
	}
	if items == 0 {
		return "", 0, errors.New("empty character class")
	}
	b.WriteString("]")
	return b.String(), i + 1, nil
}

// classChar reads one (possibly escaped) character at the start of s and
// returns it with the number of bytes it took.
func classChar(s string) (rune, int, error) {
	n := 0
	if s[0] == '\\' {
		n = 1
		if len(s) == 1 {
			return 0, 0, errors.New("unclosed character class '['")
		}
	}
	r, size := utf8.DecodeRuneInString(s[n:])
	if r == utf8.RuneError && size <= 1 {
		return 0, 0, errors.New("invalid UTF-8 in a character class")
	}
	return r, n + size, nil
}

// classLiteral writes r for use inside a regexp character class.
func classLiteral(r rune) string {
	if strings.ContainsRune(`\[]^-:`, r) {
		return "\\" + string(r)
	}
	return string(r)
}

// Match reports whether the whole key matches.
func (g Glob) Match(key string) bool { return g.re != nil && g.re.MatchString(key) }

// String returns the pattern.
func (g Glob) String() string { return g.pattern }

// KeyFilter is a rule's include_globs and exclude_globs.
type KeyFilter struct {
	include, exclude []Glob
}

// NewKeyFilter compiles the patterns; the error names the first bad one.
func NewKeyFilter(include, exclude []string) (KeyFilter, error) {
	var f KeyFilter
	for _, p := range include {
		g, err := CompileGlob(p)
		if err != nil {
			return KeyFilter{}, fmt.Errorf("include glob %q: %w", p, err)
		}
		f.include = append(f.include, g)
	}
	for _, p := range exclude {
		g, err := CompileGlob(p)
		if err != nil {
			return KeyFilter{}, fmt.Errorf("exclude glob %q: %w", p, err)
		}
		f.exclude = append(f.exclude, g)
	}
	return f, nil
}

// Match reports whether a key passes: it matches some include glob (or
// there are none) and no exclude glob.
func (f KeyFilter) Match(key string) bool {
	for _, g := range f.exclude {
		if g.Match(key) {
			return false
		}
	}
	if len(f.include) == 0 {
		return true
	}
	for _, g := range f.include {
		if g.Match(key) {
			return true
		}
	}
	return false
}

// parseDuration is time.ParseDuration that also takes the units d (24h)
// and w (7 days), as operators write lifecycle ages ("30d", "1w2d12h").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "dw") {
		return time.ParseDuration(s)
	}
	orig, neg := s, false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	bad := fmt.Errorf("time: invalid duration %q", orig)
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		j := i
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		num, unit := s[:i], s[i:j]
		if num == "" || unit == "" {
			return 0, bad
		}
		var d time.Duration
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, bad
			}
			mult := 24 * time.Hour
			if unit == "w" {
				mult *= 7
			}
			if f*float64(mult) >= math.MaxInt64 {
				return 0, bad
			}
			d = time.Duration(f * float64(mult))
		default:
			var err error
			if d, err = time.ParseDuration(num + unit); err != nil {
				return 0, bad
			}
		}
		if total > math.MaxInt64-d {
			return 0, bad
		}
		total += d
		s = s[j:]
	}
	if neg {
		total = -total
	}
	return total, nil
}
