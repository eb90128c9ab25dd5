package s3backend

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// xmlScanner splits an S3 listing answer into start tags, end tags and
// text (entities resolved). It reads the subset of XML S3 servers write:
// an XML declaration, comments, elements with attributes, and character
// data with the predefined and numeric entities. Anything else (CDATA,
// DTDs, namespace prefixes, malformed markup) is errListShape.
type xmlScanner struct {
	doc     []byte
	pos     int
	sawRoot bool
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokStart
	tokEnd
	tokText
)

// xmlToken is a token of the document; name and raw are slices of it (no
// copy): a caller keeps a text with text().
type xmlToken struct {
	kind        tokKind
	name        []byte
	raw         []byte // character data, entities not resolved
	selfClosing bool
}

// text is the token's character data, entities resolved.
func (t *xmlToken) text() (string, error) { return unescapeXML(t.raw) }

// check reports malformed entities in character data that is not kept
// (as reading it would).
func (t *xmlToken) check() error {
	if bytes.IndexByte(t.raw, '&') < 0 {
		return nil
	}
	_, err := unescapeXML(t.raw)
	return err
}

// next reads the next token into tok (the whole of it is overwritten; a
// token is filled in place rather than returned: it is the scanner's
// inner loop).
func (s *xmlScanner) next(tok *xmlToken) error {
	for {
		if s.pos >= len(s.doc) {
			*tok = xmlToken{kind: tokEOF}
			return nil
		}
		if s.doc[s.pos] != '<' {
			end := bytes.IndexByte(s.doc[s.pos:], '<')
			if end < 0 {
				end = len(s.doc) - s.pos
			}
			raw := s.doc[s.pos : s.pos+end]
			s.pos += end
			*tok = xmlToken{kind: tokText, raw: raw}
			return nil
		}
		rest := s.doc[s.pos:]
		if len(rest) < 2 || (rest[1] != '?' && rest[1] != '!') {
			return s.tag(rest, tok) // most tags: no declaration, comment or CDATA to look for
		}
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest, []byte("?>"))
			if end < 0 {
				return errListShape
			}
			s.pos += end + 2
			continue
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return errListShape
			}
			s.pos += 4 + end + 3
			continue
		case bytes.HasPrefix(rest, []byte("<!")):
			return errListShape // CDATA or DTD
		}
		return s.tag(rest, tok)
	}
}

// tag reads the tag at the start of rest into tok.
func (s *xmlScanner) tag(rest []byte, tok *xmlToken) error {
	i := 1
	end := false
	if i < len(rest) && rest[i] == '/' {
		end = true
		i++
	}
	start := i
	for ; i < len(rest); i++ {
		c := rest[i]
		if c > '>' {
			continue // letters, the most of a name: above every byte tested below
		}
		if c == '>' || c == '/' || isXMLSpace(c) {
			break
		}
		if c == ':' { // a namespace prefix
			return errListShape
		}
	}
	name := rest[start:i]
	if len(name) == 0 {
		return errListShape
	}
	// Attributes (only on start tags), skipped; quoted values may hold '>'.
	var quote byte
	for ; i < len(rest); i++ {
		c := rest[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if end {
				return errListShape
			}
			quote = c
		case c == '>':
			*tok = xmlToken{kind: tokStart, name: name}
			if end {
				tok.kind = tokEnd
			} else if rest[i-1] == '/' {
				tok.selfClosing = true
			}
			s.pos += i + 1
			return nil
		}
	}
	return errListShape
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// unescapeXML resolves the entities of character data and normalises line
// ends as XML does ("\r\n" and "\r" read as "\n").
func unescapeXML(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return string(raw), nil
	}
	b, err := appendUnescapedXML(make([]byte, 0, len(raw)), raw)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendUnescapedXML appends raw with its entities resolved and its line
// ends normalised, as unescapeXML returns it.
func appendUnescapedXML(b, raw []byte) ([]byte, error) {
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return append(b, raw...), nil // most texts: nothing to resolve
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '\r':
			b = append(b, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			continue
		case '&':
		default:
			b = append(b, c)
			continue
		}
		semi := bytes.IndexByte(raw[i:], ';')
		if semi < 0 {
			return b, errListShape
		}
		ent := raw[i+1 : i+semi]
		i += semi
		switch string(ent) {
		case "amp":
			b = append(b, '&')
		case "lt":
			b = append(b, '<')
		case "gt":
			b = append(b, '>')
		case "quot":
			b = append(b, '"')
		case "apos":
			b = append(b, '\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return b, errListShape
			}
			var n uint64
			var err error
			if ent[1] == 'x' {
				n, err = strconv.ParseUint(string(ent[2:]), 16, 32)
			} else {
				n, err = strconv.ParseUint(string(ent[1:]), 10, 32)
			}
			if err != nil || !utf8.ValidRune(rune(n)) {
				return b, errListShape
			}
			b = utf8.AppendRune(b, rune(n))
		}
	}
	return b, nil
}
