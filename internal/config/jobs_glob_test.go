package config

import (
	"path"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{".deltaglider/**", ".deltaglider/config.db", true},
		{".deltaglider/**", ".deltaglider/leases/replication/a.json", true},
		{".deltaglider/**", "x/.deltaglider/config.db", false},
		{"builds/**/*.zip", "builds/a.zip", true},
		{"builds/**/*.zip", "builds/x/y/a.zip", true},
		{"builds/**/*.zip", "builds/x/y/a.zip.sha", false},
		{"builds/**/*.zip", "other/builds/a.zip", false},
		{"**/*.zip", "a.zip", true},
		{"**/*.zip", "x/y/a.zip", true},
		{"**", "anything/at/all", true},
		{"logs/**", "logs/", true},
		{"logs/**", "logs", false},
		{"logs/*.gz", "logs/a.gz", true},
		{"logs/*.gz", "logs/d/a.gz", false},
		{"a?c", "abc", true},
		{"a?c", "a/c", false},
		{"a?c", "aéc", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[^a-c]x", "dx", true},
		{"[^a-c]x", "/x", true}, // as path.Match
		{"[!a-c]x", "dx", true},
		{"[-.]x", "-x", true},
		{"[-.]x", ".x", true},
		{"[\\]]x", "]x", true},
		{"[é]x", "éx", true},
		{"a.b", "a.b", true},
		{"a.b", "axb", false},
		{"a+(b)", "a+(b)", true},
		{"\\*", "*", true},
		{"\\*", "x", false},
		{"tmp*", "tmp/x", false},
	}
	for _, c := range cases {
		g, err := CompileGlob(c.pattern)
		if err != nil {
			t.Errorf("CompileGlob(%q): %v", c.pattern, err)
			continue
		}
		if got := g.Match(c.key); got != c.want {
			t.Errorf("%q matching %q = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}

// TestGlobAgreesWithPathMatch: without "**", the syntax and meaning are
// path.Match's.
func TestGlobAgreesWithPathMatch(t *testing.T) {
	patterns := []string{"*", "a*", "*.gz", "a/*/c", "a?c", "[a-c]*", "[^a-c]?", "x\\*y", "logs/2024-*/*.log"}
	keys := []string{"", "a", "abc", "a/b/c", "a/bb/c", "x.gz", "d/x.gz", "x*y", "xay", "logs/2024-01/a.log", "logs/2024-01/b/a.log", "dz", "/z"}
	for _, p := range patterns {
		g, err := CompileGlob(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		for _, k := range keys {
			want, _ := path.Match(p, k)
			if got := g.Match(k); got != want {
				t.Errorf("%q matching %q = %v, path.Match says %v", p, k, got, want)
			}
		}
	}
}

func TestGlobErrors(t *testing.T) {
	for _, p := range []string{"", "[", "a[b", "[]", "[^]", "x\\", "[z-a]", "[a-\\"} {
		if _, err := CompileGlob(p); err == nil {
			t.Errorf("CompileGlob(%q): no error", p)
		}
	}
}

func TestKeyFilter(t *testing.T) {
	f, err := NewKeyFilter([]string{"builds/**/*.zip", "docs/**"}, []string{"builds/golden/**"})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"builds/a.zip": true, "builds/x/a.zip": true, "docs/readme": true,
		"builds/golden/a.zip": false, "builds/a.tar": false, "other": false,
	} {
		if got := f.Match(key); got != want {
			t.Errorf("Match(%q) = %v, want %v", key, got, want)
		}
	}
	none, _ := NewKeyFilter(nil, []string{"tmp/**"})
	if !none.Match("a") || none.Match("tmp/a") {
		t.Error("exclude-only filter")
	}
	if _, err := NewKeyFilter([]string{"ok"}, []string{"[bad"}); err == nil {
		t.Error("a bad exclude glob compiled")
	}
	r := NewReplicationRule("r", JobLocation{Bucket: "a-b", Prefix: "in/"}, JobLocation{Bucket: "c-d", Prefix: "out/"})
	r.ExcludeGlobs = []string{"in/tmp/**"}
	rf, err := r.Filter()
	if err != nil || rf.Match("in/tmp/x") || !rf.Match("in/x") {
		t.Errorf("rule filter: %v", err)
	}
	if got := r.DestinationKey("in/a/b"); got != "out/a/b" {
		t.Errorf("DestinationKey = %q", got)
	}
}
