package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder fills a Config from a YAML node tree, strictly: unknown keys,
// duplicate keys and values of the wrong shape are reported with their
// path, and decoding goes on so that every problem is reported at once.
type decoder struct {
	lookup func(string) (string, bool)
	errs   *collector
}

// decodeDocument decodes the YAML document in data onto cfg.
func (d *decoder) decodeDocument(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file: all defaults
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errs.add("", "the file must be a mapping with the sections access, storage and advanced")
		return nil
	}
	d.decode(root, reflect.ValueOf(cfg).Elem(), "", false)
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// decode decodes n onto v (a settable value) at path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, secret bool) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return // "key:" or "key: ~" leaves the value as it is
	}
	if v.Type() == durationType || isScalarKind(v.Kind()) {
		if n.Kind != yaml.ScalarNode {
			d.errs.add(path, "expected "+describe(v.Type()))
			return
		}
		s := n.Value
		if secret {
			expanded, ok := d.expand(path, s)
			if !ok {
				return
			}
			s = expanded
		}
		if problem := setScalar(v, s, secret); problem != "" {
			d.errs.add(path, problem)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, secret)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errs.add(path, "expected a list")
			return
		}
		if len(n.Content) == 0 {
			v.SetZero() // an empty list is no list
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if def, ok := s.Index(i).Addr().Interface().(defaulter); ok {
				def.setDefaults()
			}
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), secret)
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	default:
		// Only reachable if a field of an unsupported type is added to Config.
		d.errs.add(path, fmt.Sprintf("unsupported field type %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if sh, ok := v.Addr().Interface().(shorthand); ok && n.Kind == yaml.ScalarNode {
		sh.setShorthand(n.Value)
		n = &yaml.Node{Kind: yaml.MappingNode}
	}
	if norm, ok := v.Addr().Interface().(normalizer); ok {
		defer norm.normalize()
	}
	if n.Kind != yaml.MappingNode {
		d.errs.add(path, "expected a mapping")
		return
	}
	fields := map[string]fieldInfo{}
	for _, f := range structFields(v.Type()) {
		fields[f.name] = f
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errs.add(path, "keys must be plain strings")
			continue
		}
		p := joinPath(path, k.Value)
		if k.Value == "<<" {
			d.errs.add(p, "merge keys are not supported")
			continue
		}
		if seen[k.Value] {
			d.errs.add(p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			d.errs.add(p, "unknown key")
			continue
		}
		d.decode(val, v.FieldByIndex(f.index), p, f.secret)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errs.add(path, "expected a mapping")
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errs.add(path, fmt.Sprintf("unsupported map type %s", v.Type()))
		return
	}
	if len(n.Content) == 0 {
		v.SetZero() // an empty mapping is no mapping
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errs.add(path, "keys must be plain strings")
			continue
		}
		p := joinPath(path, k.Value)
		key := reflect.ValueOf(k.Value).Convert(v.Type().Key())
		if m.MapIndex(key).IsValid() {
			d.errs.add(p, "duplicate key")
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, p, false)
		m.SetMapIndex(key, elem)
	}
	v.Set(m)
}

// Hooks of the jobs' rules (jobs.go): defaults of a list item set before
// its keys are read, a word accepted where a mapping is expected (action:
// delete), a normal form made after the keys are read.
type (
	defaulter  interface{ setDefaults() }
	shorthand  interface{ setShorthand(string) }
	normalizer interface{ normalize() }
)

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// expand resolves a secret written as ${VAR} (the whole value) from the
// environment. Any other value is taken literally.
func (d *decoder) expand(path, s string) (string, bool) {
	m := envRef.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return s, true
	}
	val, ok := d.lookup(m[1])
	if !ok {
		d.errs.add(path, fmt.Sprintf("environment variable %s is not set", m[1]))
		return "", false
	}
	if val == "" {
		d.errs.add(path, fmt.Sprintf("environment variable %s is empty", m[1]))
		return "", false
	}
	return val, true
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		return true
	}
	return false
}

// describe names what a value of type t looks like, for messages.
func describe(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s or 5m"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return "a string"
}

// setScalar parses s into v (string, bool, int or duration) and returns a
// problem on failure. A secret value is never quoted in the problem.
func setScalar(v reflect.Value, s string, secret bool) string {
	quoted := strconv.Quote(s)
	if secret {
		quoted = "the value"
	}
	switch {
	case v.Type() == durationType:
		dur, err := parseDuration(s)
		if err != nil {
			return fmt.Sprintf("%s is not a duration (use a unit, e.g. 30s, 5m, 1h)", quoted)
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			return fmt.Sprintf("%s is not a boolean (use true, false, 1 or 0)", quoted)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v.OverflowInt(i) {
			return fmt.Sprintf("%s is not an integer", quoted)
		}
		v.SetInt(i)
	default:
		return fmt.Sprintf("unsupported field type %s", v.Type())
	}
	return ""
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}
