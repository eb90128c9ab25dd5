package config

import (
	"fmt"
	"reflect"
	"sort"

	"go.yaml.in/yaml/v3"
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

// walkSecrets calls fn with the path and value of every secret string
// reachable from v.
func walkSecrets(v reflect.Value, path string, fn func(path, val string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkSecrets(v.Elem(), path, fn)
		}
	case reflect.Struct:
		for _, f := range structFields(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if f.secret && fv.Kind() == reflect.String {
				fn(joinPath(path, f.name), fv.String())
				continue
			}
			walkSecrets(fv, joinPath(path, f.name), fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkSecrets(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			walkSecrets(v.MapIndex(k), joinPath(path, k.String()), fn)
		}
	}
}
