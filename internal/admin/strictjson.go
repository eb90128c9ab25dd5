package admin

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// checkStrict walks the JSON document data (already decoded without error
// into a value of type t) and refuses what encoding/json lets through: an
// object key that matches a field only case-insensitively ("Name" for
// "name"), and a key given twice in one object (encoding/json keeps the
// last). It recurses into nested objects and arrays; a type with its own
// JSON or text decoding is left to it. The error is a 400 naming the field.
func checkStrict(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return checkValue(dec, t, "")
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkValue checks the next value of dec against t (nil: any value).
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return badRequest(path, "cannot decode the JSON body: %v", err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		t = nil // its own decoder judges its content; keys still may not repeat
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return checkObject(dec, t, path)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ]
	}
	if err != nil {
		return badRequest(path, "cannot decode the JSON body: %v", err)
	}
	return nil
}

// checkObject checks the members of an object whose '{' was read.
func checkObject(dec *json.Decoder, t reflect.Type, path string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = map[string]reflect.Type{}
		jsonFields(t, fields)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return badRequest(path, "cannot decode the JSON body: %v", err)
		}
		key, _ := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return badRequest(field, "field %q is given more than once", field)
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				for name := range fields {
					if strings.EqualFold(name, key) {
						return badRequest(field, "unknown field %q: field names are case-sensitive, did you mean %q?", field, name)
					}
				}
				return badRequest(field, "unknown field %q", field)
			}
		}
		if err := checkValue(dec, ft, field); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return badRequest(path, "cannot decode the JSON body: %v", err)
	}
	return nil
}

// jsonFields adds the JSON names of struct t's fields to out, as
// encoding/json names them (tag name, else the Go name; "-" skipped;
// untagged embedded structs flattened).
func jsonFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonFields(ft, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
}
