package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// skipAll reads one document as Skip does, with nothing after it but
// white space.
func skipAll(doc []byte) error {
	s := Scanner{Buf: doc, Text: string(doc)}
	s.SkipSpace()
	if err := s.Skip(); err != nil {
		return err
	}
	if s.SkipSpace(); s.Pos != len(doc) {
		return s.SyntaxErr("the end of the document")
	}
	return nil
}

var documents = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-2E-3`, `true`, `false`, `null`,
	` {"a":[1,{"b":null},"c\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"]} `,
	`{"a":1,"a":2}`, "\"\xff\xfe\"", `"\ud800"`, `[[[[[]]]]]`,
	// refused
	``, `{`, `}`, `[1,]`, `{"a"}`, `{"a":}`, `{,}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`,
	`tru`, `nul`, `"abc`, `"\x"`, `"\u12"`, "\"a\x01\"", `{"a":1}}`, `[1 2]`, `{'a':1}`,
	strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2),
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
	strings.Repeat(`{"a":`, MaxDepth+1) + "{}" + strings.Repeat("}", MaxDepth+1),
}

// TestSkipAcceptsWhatEncodingJSONAccepts: Skip refuses exactly the
// documents json.Valid refuses.
func TestSkipAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	for _, doc := range documents {
		if err, valid := skipAll([]byte(doc)), json.Valid([]byte(doc)); (err == nil) != valid {
			t.Errorf("%.60q: Skip error %v, json.Valid %v", doc, err, valid)
		}
	}
}

// TestReadStringDecodesAsEncodingJSON: a string reads as encoding/json
// decodes it (escapes, surrogates, invalid UTF-8), sliced from Text or
// copied.
func TestReadStringDecodesAsEncodingJSON(t *testing.T) {
	for _, doc := range []string{`"plain"`, `""`, `"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`, "\"caf\xc3\xa9\"", "\"\xff\"", `"\/\b\f\n\r\t\\"`} {
		var want string
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		for _, text := range []string{doc, ""} {
			s := Scanner{Buf: []byte(doc), Text: text}
			got, err := s.ReadString()
			if err != nil || got != want || s.Pos != len(doc) {
				t.Errorf("%q (Text %q): %q, %v, pos %d; want %q", doc, text, got, err, s.Pos, want)
			}
		}
	}
}

func FuzzSkip(f *testing.F) {
	for _, doc := range documents {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if err, valid := skipAll(doc), json.Valid(doc); (err == nil) != valid {
			t.Fatalf("%q: Skip error %v, json.Valid %v", doc, err, valid)
		}
		if len(doc) > 0 && doc[0] == '"' {
			var want string
			wantErr := json.Unmarshal(doc, &want)
			s := Scanner{Buf: doc}
			got, err := s.ReadString()
			if s.SkipSpace(); err == nil && s.Pos != len(doc) {
				return // a string followed by something else
			}
			if (err == nil) != (wantErr == nil) || got != want && err == nil {
				t.Fatalf("%q: ReadString %q, %v; encoding/json %q, %v", doc, got, err, want, wantErr)
			}
		}
	})
}

// TestMembers: named members are read once each, others skipped; a name
// in another case, a repeated name, a failed read, a syntax error or a
// value that is no object is refused.
func TestMembers(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":"x","other":[1,{"a":2}],"b":"y"}`: "a=x b=y ",
		`{}`:                                    "",
		`{"A":"x"}`:                             "refused",
		`{"a":"x","a":"y"}`:                     "refused",
		`{"a":1}`:                               "refused", // read refuses a number
		`{"a":"x",}`:                            "refused",
		`{"other":tru}`:                         "refused",
		`["a"]`:                                 "refused",
		`null`:                                  "refused",
	} {
		s := Scanner{Buf: []byte(doc), Text: doc}
		got := ""
		ok := s.Members([]string{"a", "b"}, func(name string) bool {
			if s.Peek() != '"' {
				return false
			}
			v, err := s.ReadString()
			got += name + "=" + v + " "
			return err == nil
		})
		if !ok {
			got = "refused"
		}
		if got != want {
			t.Errorf("%s: %q, want %q", doc, got, want)
		}
	}
}

// TestElements: every element of an array is read; null, another value,
// a failed read or a syntax error is refused.
func TestElements(t *testing.T) {
	for doc, want := range map[string]string{
		`["a", "b"]`: "a b ",
		`[]`:         "",
		`["a",1]`:    "refused",
		`["a",]`:     "refused",
		`null`:       "refused",
		`{"a":"b"}`:  "refused",
	} {
		s := Scanner{Buf: []byte(doc)}
		got := ""
		ok := s.Elements(func() bool {
			v, ok := s.OnlyString()
			got += v + " "
			return ok
		})
		if !ok {
			got = "refused"
		}
		if got != want {
			t.Errorf("%s: %q, want %q", doc, got, want)
		}
	}
}

// TestDepthCountsFromTheRoot: a value skipped inside members read by
// Members and Elements is bounded by the document's nesting, as
// encoding/json bounds it, not by its own.
func TestDepthCountsFromTheRoot(t *testing.T) {
	for _, n := range []int{MaxDepth - 2, MaxDepth - 1, MaxDepth} {
		doc := `[{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}]`
		s := Scanner{Buf: []byte(doc), Text: doc}
		ok := s.Elements(func() bool { return s.Members([]string{"a"}, func(string) bool { return false }) })
		if valid := json.Valid([]byte(doc)); ok != valid {
			t.Errorf("%d arrays inside two levels: read %v, json.Valid %v", n, ok, valid)
		}
	}
}
