package config_test

import (
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/lease"
)

func parseRules(t *testing.T, doc string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("t.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, doc)
	}
	return cfg
}

func TestRuleHashStableAndCanonical(t *testing.T) {
	// The same definition written three ways: defaults left out, spelled
	// out, globs in another order, and switched off.
	a := parseRules(t, `
storage:
  replication:
    rules:
      - name: rel
        source: {bucket: releases}
        destination: {bucket: releases-dr}
        exclude_globs: ["tmp/**", "*.part"]
`).Storage.Replication.Rules[0]
	b := parseRules(t, `
storage:
  replication:
    rules:
      - name: rel
        enabled: false
        source: {bucket: releases, prefix: ""}
        destination: {bucket: releases-dr, prefix: ""}
        interval: 60m
        batch_size: 100
        replicate_deletes: false
        conflict: newer-wins
        include_globs: []
        exclude_globs: ["*.part", "tmp/**"]
`).Storage.Replication.Rules[0]
	if a.Hash() != b.Hash() {
		t.Errorf("equal definitions hash differently:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	// A golden value: the hash must not change between releases (leases
	// written by an older binary compare against it).
	const golden = `{"v":1,"kind":"replication","name":"rel","source":{"bucket":"releases","prefix":""},"destination":{"bucket":"releases-dr","prefix":""},"interval":"1h0m0s","batch_size":100,"replicate_deletes":false,"conflict":"newer-wins","include_globs":[],"exclude_globs":["*.part","tmp/**"]}`
	if got := string(a.Canonical()); got != golden {
		t.Errorf("canonical encoding changed:\n got %s\nwant %s", got, golden)
	}
	if got, want := a.Hash(), lease.HashDefinition([]byte(golden)); got != want {
		t.Errorf("Hash = %s, lease.HashDefinition = %s", got, want)
	}

	changes := map[string]func(r *config.ReplicationRule){
		"name":              func(r *config.ReplicationRule) { r.Name = "rel2" },
		"source bucket":     func(r *config.ReplicationRule) { r.Source.Bucket = "other" },
		"source prefix":     func(r *config.ReplicationRule) { r.Source.Prefix = "x/" },
		"destination":       func(r *config.ReplicationRule) { r.Destination.Prefix = "x/" },
		"interval":          func(r *config.ReplicationRule) { r.Interval = time.Minute },
		"batch_size":        func(r *config.ReplicationRule) { r.BatchSize = 5 },
		"replicate_deletes": func(r *config.ReplicationRule) { r.ReplicateDeletes = true },
		"conflict":          func(r *config.ReplicationRule) { r.Conflict = config.ConflictContentDiff },
		"include_globs":     func(r *config.ReplicationRule) { r.IncludeGlobs = []string{"a/**"} },
		"exclude_globs":     func(r *config.ReplicationRule) { r.ExcludeGlobs = r.ExcludeGlobs[:1] },
	}
	seen := map[string]string{a.Hash(): "original"}
	for name, change := range changes {
		r := a
		r.ExcludeGlobs = append([]string(nil), a.ExcludeGlobs...)
		change(&r)
		h := r.Hash()
		if other, dup := seen[h]; dup {
			t.Errorf("changing %s gives the hash of %s", name, other)
		}
		seen[h] = name
	}
}

func TestLifecycleRuleHash(t *testing.T) {
	var rules []config.LifecycleRule
	for _, r := range []string{
		"{name: d, bucket: logs-a, action: delete, expire_after: 30d}",
		"{name: d, bucket: logs-a, action: {type: delete}, expire_after: 720h, enabled: true}",
		"{name: d, bucket: logs-a, action: delete, expire_after: 31d}",
		"{name: t, bucket: logs-a, action: {type: archive, destination: {bucket: cold-b}}, expire_after: 30d}",
		"{name: t, bucket: logs-a, action: {type: transition, destination: {bucket: cold-b}}, expire_after: 30d}",
		"{name: t, bucket: logs-a, action: {type: transition, destination: {bucket: cold-b}, delete_source_after_success: true}, expire_after: 30d}",
		"{name: k, bucket: logs-a, action: {type: retain-newest, count: 2}}",
		"{name: k, bucket: logs-a, action: {type: retain-newest, count: 3}}",
	} {
		rules = append(rules, parseRules(t, "storage:\n  lifecycle:\n    rules:\n      - "+r+"\n").Storage.Lifecycle.Rules[0])
	}
	same := [][2]int{{0, 1}, {3, 4}}
	differ := [][2]int{{0, 2}, {4, 5}, {6, 7}, {0, 3}}
	for _, p := range same {
		if rules[p[0]].Hash() != rules[p[1]].Hash() {
			t.Errorf("rules %d and %d should hash alike:\n%s\n%s", p[0], p[1], rules[p[0]].Canonical(), rules[p[1]].Canonical())
		}
	}
	for _, p := range differ {
		if rules[p[0]].Hash() == rules[p[1]].Hash() {
			t.Errorf("rules %d and %d should hash differently: %s", p[0], p[1], rules[p[0]].Canonical())
		}
	}
	if h := rules[0].Hash(); h != lease.HashDefinition(rules[0].Canonical()) {
		t.Errorf("Hash %s is not lease.HashDefinition of Canonical", h)
	}
}
