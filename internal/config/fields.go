package config

import (
	"reflect"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// fieldInfo describes one YAML key of a struct type.
type fieldInfo struct {
	name   string // YAML key
	index  []int  // for reflect.Value.FieldByIndex (inline structs flattened)
	secret bool   // tagged dgp:"secret"
	envOff bool   // tagged env:"-": YAML only
	env    []string
}

// structFields lists the YAML keys of struct type t in declaration order,
// flattening ",inline" fields.
func structFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for _, in := range structFields(f.Type) {
				in.index = append([]int{i}, in.index...)
				out = append(out, in)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fi := fieldInfo{name: name, index: []int{i}, secret: f.Tag.Get("dgp") == "secret"}
		switch env := f.Tag.Get("env"); env {
		case "-":
			fi.envOff = true
		case "":
		default:
			fi.env = strings.Split(env, ",")
		}
		out = append(out, fi)
	}
	return out
}

// joinPath appends a key to a YAML path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// leaf is one key settable from the environment.
type leaf struct {
	path   string
	env    []string // first is the documented name, the rest are accepted too
	secret bool
	index  []int // from the Config root
	typ    reflect.Type
}

// leaves lists every environment-settable key of Config in order.
func leaves() []leaf {
	var out []leaf
	var walk func(t reflect.Type, path string, index []int)
	walk = func(t reflect.Type, path string, index []int) {
		for _, f := range structFields(t) {
			if f.envOff {
				continue
			}
			p := joinPath(path, f.name)
			idx := append(append([]int(nil), index...), f.index...)
			ft := t.FieldByIndex(f.index).Type
			if ft.Kind() == reflect.Struct {
				walk(ft, p, idx)
				continue
			}
			env := f.env
			if len(env) == 0 {
				env = []string{envName(p)}
			}
			out = append(out, leaf{path: p, env: env, secret: f.secret, index: idx, typ: ft})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// envName derives the environment variable of a key path: DGP_ + the path
// upper-cased with '.' -> '_', without a leading access. or advanced.
func envName(path string) string {
	for _, section := range []string{"access.", "advanced."} {
		if rest, ok := strings.CutPrefix(path, section); ok {
			path = rest
			break
		}
	}
	return "DGP_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// KeyInfo describes one configuration key for documentation and tooling.
type KeyInfo struct {
	// Path is the YAML path; list items appear as "[]" and map values as
	// "<name>", e.g. "access.iam.users[].name", "storage.buckets.<name>.alias".
	Path string
	// Env is the environment variable names (the first is the documented
	// one); empty for YAML-only keys.
	Env []string
	// Secret is true for keys whose values are never printed.
	Secret bool
}

// Keys lists every configuration key, in file order.
func Keys() []KeyInfo {
	envs := map[string][]string{}
	for _, l := range leaves() {
		envs[l.path] = l.env
	}
	var out []KeyInfo
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for _, f := range structFields(t) {
			p := joinPath(path, f.name)
			ft := t.FieldByIndex(f.index).Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct:
				walk(ft, p)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[]")
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+".<name>")
			default:
				out = append(out, KeyInfo{Path: p, Env: envs[p], Secret: f.secret})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}
