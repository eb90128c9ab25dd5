package config

import (
	"fmt"
	"strings"
	"testing"
)

// badJobs holds one invalid setting of every kind; every problem must be
// reported by one load, each at its path.
const badJobs = `
storage:
  backends:
    - {name: local, type: filesystem, path: /srv/objects}
    - {name: minio, type: s3, endpoint: "http://127.0.0.1:9000"}
  buckets:
    ghost: {backend: nowhere}
  replication:
    tick_interval: 0s
    lease_ttl: 30s
    heartbeat_interval: 30s
    max_failures_retained: 0
    rules:
      - name: "bad name!"
        source: {bucket: src-a, prefix: /abs}
        destination: {bucket: Not_A_Bucket}
        interval: -1m
        batch_size: 0
        conflict: source-wins
        include_globs: ["logs/[a-"]
        exclude_globs: ["ok/**", "trailing\\"]
      - name: dup
        source: {bucket: src-b, prefix: .deltaglider/leases/}
        destination: {bucket: ghost}
        batch_size: 10001
      - name: dup
        source: {bucket: ""}
        destination: {bucket: dst-c}
      - name: "."
        source: {bucket: src-d}
        destination: {bucket: dst-d}
      - name: this-name-is-far-too-long-for-a-rule-because-it-has-more-than-64-chars
        source: {bucket: src-e}
        destination: {bucket: dst-e}
  lifecycle:
    tick_interval: -1h
    max_failures_retained: 10001
    rules:
      - name: del
        bucket: logs-a
        action: delete
        count: 3
      - name: del2
        bucket: logs-a
        action: {type: delete, count: 3, destination: {bucket: x-bucket}}
        expire_after: 0s
      - name: keep
        bucket: logs-b
        action: {type: retain-newest, qualify: {min_size_bytes: -1, min_age: -1h}, protect_younger_than: -1s, delete_source_after_success: true}
      - name: move
        bucket: logs-c
        prefix: old/
        action: {type: transition, destination: {bucket: logs-c, prefix: old/cold/}, count: 1}
        expire_after: 1d
      - name: move2
        bucket: logs-d
        action: transition
        expire_after: 1d
      - bucket: logs-e
        action: shred
        batch_size: 0
        include_globs: ["[]"]
      - bucket: logs-e
        action: {type: delete}
        expire_after: 1d
      - name: noaction
        bucket: logs-f
      - action: delete
        expire_after: 1d
`

func TestJobsInvalidReportedTogether(t *testing.T) {
	list := parseErrors(t, badJobs, nil)
	const r, l = "storage.replication", "storage.lifecycle"
	want := []struct{ path, problem string }{
		{"storage.buckets.ghost.backend", `no backend named "nowhere"`},
		{r + ".tick_interval", "must be more than 0"},
		{r + ".heartbeat_interval", "must be less than storage.replication.lease_ttl (30s)"},
		{r + ".max_failures_retained", "between 1 and 10000"},
		{r + ".rules[0].name", `"bad name!": use 1-64 letters`},
		{r + ".rules[0].source.prefix", "must not start with '/'"},
		{r + ".rules[0].destination.bucket", "not a valid bucket name"},
		{r + ".rules[0].interval", "must be more than 0"},
		{r + ".rules[0].batch_size", "between 1 and 10000"},
		{r + ".rules[0].conflict", `"source-wins" is not one of newer-wins, content-diff, skip-if-dest-exists`},
		{r + ".rules[0].include_globs[0]", "unclosed character class"},
		{r + ".rules[0].exclude_globs[1]", `ends with an unescaped '\'`},
		{r + ".rules[1].source.prefix", "must not be under .deltaglider/"},
		{r + ".rules[1].destination.bucket", `"ghost" routes to backend "nowhere", which is not configured`},
		{r + ".rules[1].batch_size", "between 1 and 10000"},
		{r + ".rules[2].name", `replication rule "dup" is also rules[1]`},
		{r + ".rules[2].source.bucket", "required"},
		{r + ".rules[3].name", `".": use 1-64 letters`},
		{r + ".rules[4].name", "use 1-64 letters"},
		{l + ".tick_interval", "must be more than 0"},
		{l + ".max_failures_retained", "between 1 and 10000"},
		{l + ".rules[0].count", "unknown key"},
		{l + ".rules[0].expire_after", "must be more than 0"},
		{l + ".rules[1].expire_after", "must be more than 0"},
		{l + ".rules[1].action", "only used by retain-newest"},
		{l + ".rules[1].action", "only used by transition"},
		{l + ".rules[2].action.count", "required for retain-newest: at least 1"},
		{l + ".rules[2].action.qualify.min_size_bytes", "must be 0 (no minimum) or more"},
		{l + ".rules[2].action.qualify.min_age", "must not be negative"},
		{l + ".rules[2].action.protect_younger_than", "must not be negative"},
		{l + ".rules[2].action", "only used by transition"},
		{l + ".rules[3].action", "only used by retain-newest"},
		{l + ".rules[3].action.destination", "overlaps the rule's own bucket and prefix"},
		{l + ".rules[4].action.destination.bucket", "required"},
		{l + ".rules[5].action.type", `"shred" is not one of delete, retain-newest, transition`},
		{l + ".rules[5].batch_size", "between 1 and 10000"},
		{l + ".rules[5].include_globs[0]", "empty character class"},
		{l + ".rules[6].name", `lifecycle rule "logs-e" is also rules[5]`},
		{l + ".rules[7].action", "required: delete, retain-newest or transition"},
		{l + ".rules[8].name", "required (or set bucket"},
		{l + ".rules[8].bucket", "required"},
	}
	for _, w := range want {
		if !hasError(list, w.path, w.problem) {
			t.Errorf("missing %s: ...%s...", w.path, w.problem)
		}
	}
	if len(list) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(list), len(want), strings.Join(lines(list), "\n"))
	}
}

// cycleDoc builds a configuration of replication rules, one per line of
// rules ("name src-bucket/src-prefix dst-bucket/dst-prefix"), with routes.
func cycleDoc(routes string, rules ...string) string {
	var b strings.Builder
	b.WriteString("storage:\n")
	if routes != "" {
		b.WriteString("  backends:\n    - {name: local, type: filesystem, path: /srv/a}\n    - {name: other, type: filesystem, path: /srv/b}\n")
		b.WriteString("  buckets:\n" + routes)
	}
	b.WriteString("  replication:\n    rules:\n")
	for _, r := range rules {
		f := strings.Fields(r)
		sb, sp, _ := strings.Cut(f[1], "/")
		db, dp, _ := strings.Cut(f[2], "/")
		fmt.Fprintf(&b, "      - {name: %s, source: {bucket: %s, prefix: %q}, destination: {bucket: %s, prefix: %q}}\n", f[0], sb, sp, db, dp)
	}
	return b.String()
}

func TestReplicationCycles(t *testing.T) {
	cases := []struct {
		name   string
		routes string
		rules  []string
		path   string // where the problem is reported; "" means valid
		want   string
	}{
		{name: "self loop, same prefix", rules: []string{"a b-one/x b-one/x"},
			path: "storage.replication.rules[0].destination", want: "overlaps the source"},
		{name: "self loop, destination under the source prefix", rules: []string{"a b-one/logs b-one/logs-copy"},
			path: "storage.replication.rules[0].destination", want: "overlaps the source"},
		{name: "self loop, source under the destination prefix", rules: []string{"a b-one/x/y b-one/"},
			path: "storage.replication.rules[0].destination", want: "overlaps the source"},
		{name: "same bucket, disjoint prefixes", rules: []string{"a b-one/in/ b-one/out/"}},
		{name: "self loop through an alias", routes: "    mirror: {alias: b-one}\n", rules: []string{"a b-one/ mirror/"},
			path: "storage.replication.rules[0].destination", want: "overlaps the source"},
		{name: "same name on two backends", routes: "    b-two: {backend: other, alias: b-one}\n", rules: []string{"a b-one/ b-two/"}},
		{name: "two hops", rules: []string{"a b-one/ b-two/", "b b-two/ b-one/"},
			path: "storage.replication.rules[0]", want: `replication cycle: "a" -> "b" -> "a"`},
		{name: "three hops through prefixes", rules: []string{"x b-one/p/ b-two/q/", "y b-two/ b-three/r/", "z b-three/r/s/ b-one/"},
			path: "storage.replication.rules[0]", want: `replication cycle: "x" -> "y" -> "z" -> "x"`},
		{name: "three hops reported at the first rule of the cycle", rules: []string{"ok b-nine/ b-ten/", "x b-one/ b-two/", "y b-two/ b-three/", "z b-three/ b-one/"},
			path: "storage.replication.rules[1]", want: `"x" -> "y" -> "z" -> "x"`},
		{name: "chain without a cycle", rules: []string{"x b-one/ b-two/", "y b-two/ b-three/", "z b-three/ b-four/"}},
		{name: "disjoint prefixes break the chain", rules: []string{"x b-one/a/ b-two/a/", "y b-two/b/ b-one/a/"}},
		{name: "fan-in, no cycle", rules: []string{"x b-one/ b-three/one/", "y b-two/ b-three/two/"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := cycleDoc(c.routes, c.rules...)
			if c.path == "" {
				mustParse(t, doc, nil)
				return
			}
			list := parseErrors(t, doc, nil)
			if !hasError(list, c.path, c.want) || len(list) != 1 {
				t.Errorf("want one problem at %s (%s), got:\n%s\n--- yaml:\n%s", c.path, c.want, strings.Join(lines(list), "\n"), doc)
			}
		})
	}
}

func TestTwoCyclesReportedOnce(t *testing.T) {
	list := parseErrors(t, cycleDoc("", "a b-one/ b-two/", "b b-two/ b-one/", "c b-five/ b-six/", "d b-six/ b-five/", "e b-two/x/ b-one/x/"), nil)
	if len(list) != 2 || !hasError(list, "storage.replication.rules[0]", `"a" -> "b" -> "a"`) ||
		!hasError(list, "storage.replication.rules[2]", `"c" -> "d" -> "c"`) {
		t.Errorf("got:\n%s", strings.Join(lines(list), "\n"))
	}
}

func TestValidJobsCrossBackend(t *testing.T) {
	cfg := mustParse(t, `
storage:
  backends:
    - {name: dir, type: filesystem, path: /srv/objects}
    - {name: minio, type: s3, endpoint: "http://127.0.0.1:19000", force_path_style: true}
  buckets:
    releases-dr: {backend: minio}
  replication:
    lease_ttl: 3s
    heartbeat_interval: 1s
    tick_interval: 500ms
    rules:
      - name: releases
        source: {bucket: releases}
        destination: {bucket: releases-dr}
      - name: back
        source: {bucket: releases-dr, prefix: "in/"}
        destination: {bucket: restored, prefix: "from-dr/"}
        replicate_deletes: true
        conflict: content-diff
`, nil)
	if got := cfg.Storage.Replication.Rules[1]; got.Conflict != ConflictContentDiff || !got.ReplicateDeletes {
		t.Errorf("rule: %+v", got)
	}
}
