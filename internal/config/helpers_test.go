package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// envMap turns a map into a lookup function.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// mustParse parses YAML with env and fails the test on any error.
func mustParse(t testing.TB, doc string, env map[string]string) *Config {
	t.Helper()
	cfg, _, err := Parse("test.yaml", []byte(doc), envMap(env))
	if err != nil {
		t.Fatalf("parse: unexpected error:\n%v\n--- yaml:\n%s", err, doc)
	}
	return cfg
}

// parseErrors parses YAML with env and returns the field errors, failing
// the test when the result is not *Errors.
func parseErrors(t testing.TB, doc string, env map[string]string) []FieldError {
	t.Helper()
	cfg, _, err := Parse("test.yaml", []byte(doc), envMap(env))
	if err == nil {
		t.Fatalf("parse: expected errors, got none (config %+v)\n--- yaml:\n%s", cfg, doc)
	}
	if cfg != nil {
		t.Errorf("parse: a config was returned along with errors")
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("parse: error is %T (%v), want *Errors", err, err)
	}
	return errs.List
}

// lines renders field errors one per line, for comparisons and messages.
func lines(list []FieldError) []string {
	out := make([]string, len(list))
	for i, fe := range list {
		out[i] = fe.Error()
	}
	return out
}

// hasError reports whether list holds an error at path whose problem
// contains substr.
func hasError(list []FieldError, path, substr string) bool {
	for _, fe := range list {
		if fe.Path == path && strings.Contains(fe.Problem, substr) {
			return true
		}
	}
	return false
}

// nest builds a YAML document setting the key at the dotted path to the
// YAML literal value, e.g. nest("advanced.tls.cert_file", `"a"`).
func nest(path, value string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i))
		b.WriteString(p)
		b.WriteString(":")
		if i == len(parts)-1 {
			fmt.Fprintf(&b, " %s", value)
		}
		b.WriteString("\n")
	}
	return b.String()
}
