package config

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// applyEnv overlays the DGP_* environment onto cfg. An empty variable counts
// as unset. It returns, for every key it set, the variable that set it.
func applyEnv(cfg *Config, lookup func(string) (string, bool), errs *collector) map[string]string {
	origin := map[string]string{}
	root := reflect.ValueOf(cfg).Elem()
	for _, l := range leaves() {
		name, val, ok := lookupLeaf(l, lookup, errs)
		if !ok {
			continue
		}
		origin[l.path] = name
		v := root.FieldByIndex(l.index)
		if l.typ.Kind() == reflect.Slice {
			items := splitList(val)
			if len(items) == 0 {
				v.SetZero()
				continue
			}
			s := reflect.MakeSlice(l.typ, len(items), len(items))
			for i, item := range items {
				if problem := setScalar(s.Index(i), item, l.secret); problem != "" {
					errs.addEnv(l.path, name, problem)
				}
			}
			v.Set(s)
			continue
		}
		if problem := setScalar(v, val, l.secret); problem != "" {
			errs.addEnv(l.path, name, problem)
		}
	}
	return origin
}

// lookupLeaf finds the value of a key among its environment names. When
// several are set they must agree.
func lookupLeaf(l leaf, lookup func(string) (string, bool), errs *collector) (name, val string, ok bool) {
	for _, n := range l.env {
		v, found := lookup(n)
		if !found || v == "" {
			continue
		}
		if !ok {
			name, val, ok = n, v, true
			continue
		}
		if v != val {
			errs.addEnv(l.path, name, fmt.Sprintf("%s and %s are both set, to different values", name, n))
		}
	}
	return name, val, ok
}

// splitList splits a comma-separated environment value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// knownEnv reports whether name is an environment variable this package reads.
func knownEnv(name string, known map[string]bool) bool {
	return known[name] || name == EnvConfigFile || strings.HasPrefix(name, "DGP_TEST_")
}

// unknownEnvWarnings returns a warning for every DGP_* variable in environ
// ("NAME=value" entries) that no key reads.
func unknownEnvWarnings(environ []string) []string {
	known := map[string]bool{}
	var all []string
	for _, l := range leaves() {
		for _, n := range l.env {
			known[n] = true
			all = append(all, n)
		}
	}
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "DGP_") && !knownEnv(name, known) && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, name := range names {
		w := fmt.Sprintf("%s: unknown environment variable, ignored", name)
		if s := closest(name, all); s != "" {
			w += fmt.Sprintf(" (did you mean %s?)", s)
		}
		out = append(out, w)
	}
	return out
}

// closest returns the candidate within a small edit distance of name, if any.
func closest(name string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
