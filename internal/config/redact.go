package config

import (
	"reflect"

	"gopkg.in/yaml.v3"
)

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	out := &Config{}
	deepCopy(reflect.ValueOf(out).Elem(), reflect.ValueOf(c).Elem(), false)
	out.origin = c.origin // read-only after Load
	return out
}

// Redacted returns a deep copy of c for printing, with every secret that is
// set (keys tagged as secret: secret keys, passwords, tokens, client
// secrets, the bootstrap password and its hash) replaced by Redaction.
func (c *Config) Redacted() *Config {
	out := &Config{}
	deepCopy(reflect.ValueOf(out).Elem(), reflect.ValueOf(c).Elem(), true)
	out.origin = c.origin
	return out
}

// YAML renders the configuration as YAML that Load reads back to the same
// configuration. Call it on Redacted() before showing it to anyone.
func (c *Config) YAML() ([]byte, error) {
	return yaml.Marshal(c)
}

// deepCopy copies src into dst (same type, dst settable). With redact,
// non-empty secret strings become Redaction.
func deepCopy(dst, src reflect.Value, redact bool) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem(), redact)
		dst.Set(p)
	case reflect.Struct:
		for _, f := range structFields(src.Type()) {
			d, s := dst.FieldByIndex(f.index), src.FieldByIndex(f.index)
			if redact && f.secret && s.Kind() == reflect.String && s.Len() > 0 {
				d.SetString(Redaction)
				continue
			}
			deepCopy(d, s, redact)
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i), redact)
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		iter := src.MapRange()
		for iter.Next() {
			v := reflect.New(src.Type().Elem()).Elem()
			deepCopy(v, iter.Value(), redact)
			m.SetMapIndex(iter.Key(), v)
		}
		dst.Set(m)
	default:
		dst.Set(src)
	}
}
