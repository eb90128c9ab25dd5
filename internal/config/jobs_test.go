package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// originalShape is storage.replication and storage.lifecycle as the
// original product's reference pages write them (durations in days).
const originalShape = `
storage:
  replication:
    enabled: true
    tick_interval: "30s"
    lease_ttl: "60s"
    heartbeat_interval: "20s"
    max_failures_retained: 100
    rules:
      - name: prod-to-backup
        enabled: true
        source:
          bucket: prod-artifacts
          prefix: ""
        destination:
          bucket: backup-artifacts
          prefix: ""
        interval: "15m"
        batch_size: 100
        replicate_deletes: false
        conflict: newer-wins
        include_globs: []
        exclude_globs: [".deltaglider/**"]
  lifecycle:
    enabled: false
    tick_interval: "1h"
    max_failures_retained: 100
    rules:
      - name: expire-old-builds
        enabled: false
        bucket: artifacts
        prefix: "builds/"
        action: delete
        expire_after: "30d"
        batch_size: 100
        include_globs: ["builds/**/*.zip"]
        exclude_globs: [".deltaglider/**", "builds/golden/**"]
      - name: archive-old-builds
        enabled: false
        bucket: artifacts
        prefix: "builds/"
        action:
          type: archive
          destination:
            bucket: artifact-archive
            prefix: "cold/builds/"
          delete_source_after_success: false
        expire_after: "90d"
        batch_size: 100
        include_globs: ["builds/**/*.zip"]
      - name: keep-last-two-nightly-dumps
        enabled: true
        bucket: db-archive
        prefix: "nightly/"
        action:
          type: retain-newest
          count: 2
          qualify:
            min_size_bytes: 1048576
            min_age: "1h"
          protect_younger_than: "7d"
        include_globs: ["nightly/**/*.dump"]
`

func TestJobsOriginalShapeLoads(t *testing.T) {
	cfg := mustParse(t, originalShape, nil)
	r := cfg.Storage.Replication
	if !r.Enabled || r.TickInterval != 30*time.Second || r.LeaseTTL != time.Minute || r.HeartbeatInterval != 20*time.Second {
		t.Errorf("replication section: %+v", r)
	}
	want := ReplicationRule{
		Name: "prod-to-backup", Enabled: true,
		Source:      JobLocation{Bucket: "prod-artifacts"},
		Destination: JobLocation{Bucket: "backup-artifacts"},
		Interval:    15 * time.Minute, BatchSize: 100, Conflict: ConflictNewerWins,
		ExcludeGlobs: []string{".deltaglider/**"},
	}
	if len(r.Rules) != 1 || !reflect.DeepEqual(r.Rules[0], want) {
		t.Errorf("replication rule:\n got %+v\nwant %+v", r.Rules, want)
	}
	l := cfg.Storage.Lifecycle.Rules
	if len(l) != 3 {
		t.Fatalf("lifecycle rules: %+v", l)
	}
	if l[0].Action.Type != ActionDelete || l[0].ExpireAfter != 30*24*time.Hour || l[0].Enabled {
		t.Errorf("delete rule: %+v", l[0])
	}
	if a := l[1].Action; a.Type != ActionTransition || a.Destination != (JobLocation{"artifact-archive", "cold/builds/"}) ||
		a.DeleteSourceAfterSuccess || l[1].ExpireAfter != 90*24*time.Hour {
		t.Errorf("transition rule (written archive): %+v", l[1])
	}
	if a := l[2].Action; a.Type != ActionRetainNewest || a.Count != 2 || a.Qualify != (RetainQualify{1 << 20, time.Hour}) ||
		a.ProtectYoungerThan != 7*24*time.Hour || !l[2].Enabled || l[2].BatchSize != DefaultJobBatchSize {
		t.Errorf("retain-newest rule: %+v", l[2])
	}
	if got := l[2].JobID(); got != "lifecycle:keep-last-two-nightly-dumps" {
		t.Errorf("JobID = %q", got)
	}
}

// TestJobsDocExampleLoads loads the Jobs example of docs/configuration.md.
func TestJobsDocExampleLoads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "## Jobs")
	if start < 0 {
		t.Fatal("docs/configuration.md has no Jobs section")
	}
	block := doc[start:]
	i := strings.Index(block, "```yaml\n")
	if i < 0 {
		t.Fatal("the Jobs section has no YAML example")
	}
	block = block[i+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	cfg, warnings, err := Parse("configuration.md", []byte(block), nil)
	if err != nil {
		t.Fatalf("the example does not load:\n%v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if len(cfg.Storage.Replication.Rules) != 1 || len(cfg.Storage.Lifecycle.Rules) != 3 {
		t.Errorf("rules: %+v / %+v", cfg.Storage.Replication.Rules, cfg.Storage.Lifecycle.Rules)
	}
}

func TestJobsDefaults(t *testing.T) {
	d := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"replication.enabled", d.Storage.Replication.Enabled, true},
		{"replication.tick_interval", d.Storage.Replication.TickInterval, 30 * time.Second},
		{"replication.lease_ttl", d.Storage.Replication.LeaseTTL, 60 * time.Second},
		{"replication.heartbeat_interval", d.Storage.Replication.HeartbeatInterval, 20 * time.Second},
		{"replication.max_failures_retained", d.Storage.Replication.MaxFailuresRetained, 100},
		{"lifecycle.enabled", d.Storage.Lifecycle.Enabled, false},
		{"lifecycle.tick_interval", d.Storage.Lifecycle.TickInterval, time.Hour},
		{"lifecycle.max_failures_retained", d.Storage.Lifecycle.MaxFailuresRetained, 100},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if ttl, hb := d.JobsLease(); ttl != 60*time.Second || hb != 20*time.Second {
		t.Errorf("JobsLease = %s, %s", ttl, hb)
	}

	cfg := mustParse(t, `
storage:
  replication:
    rules:
      - {name: r, source: {bucket: src-b}, destination: {bucket: dst-b}}
  lifecycle:
    rules:
      - {bucket: logs-b, action: delete, expire_after: 7d}
`, nil)
	want := NewReplicationRule("r", JobLocation{Bucket: "src-b"}, JobLocation{Bucket: "dst-b"})
	if got := cfg.Storage.Replication.Rules[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("replication rule defaults:\n got %+v\nwant %+v", got, want)
	}
	if want.Interval != time.Hour || want.BatchSize != 100 || want.Conflict != ConflictNewerWins || !want.Enabled || want.ReplicateDeletes {
		t.Errorf("NewReplicationRule: %+v", want)
	}
	lwant := NewLifecycleRule("", JobLocation{Bucket: "logs-b"}, LifecycleAction{Type: ActionDelete})
	lwant.ExpireAfter = 7 * 24 * time.Hour
	if got := cfg.Storage.Lifecycle.Rules[0]; !reflect.DeepEqual(got, lwant) {
		t.Errorf("lifecycle rule defaults:\n got %+v\nwant %+v", got, lwant)
	}
	if lwant.Name != "logs-b" || lwant.Enabled || lwant.BatchSize != 100 {
		t.Errorf("NewLifecycleRule: %+v", lwant)
	}
}

func TestDerivedLifecycleName(t *testing.T) {
	long := strings.Repeat("deep/", 20)
	cases := []struct{ bucket, prefix, want string }{
		{"logs", "", "logs"},
		{"logs", "tmp/", "logs_tmp"},
		{"logs", "a b/c+d/", "logs_a_b_c_d"},
		{"logs", "Été/", "logs__t"},
		{"logs", long, "logs_deep_deep_deep_deep_deep_deep_deep_deep_deep_deep_-" + "????????"},
	}
	for _, c := range cases {
		got := DerivedLifecycleName(c.bucket, c.prefix)
		if strings.HasSuffix(c.want, "????????") {
			if len(got) != 64 || !strings.HasPrefix(got, c.want[:56]) {
				t.Errorf("DerivedLifecycleName(%q, long) = %q (%d)", c.bucket, got, len(got))
			}
		} else if got != c.want {
			t.Errorf("DerivedLifecycleName(%q, %q) = %q, want %q", c.bucket, c.prefix, got, c.want)
		}
		if !jobNameRE.MatchString(got) {
			t.Errorf("derived name %q is not a valid rule name", got)
		}
	}
}

func TestJobsRoundTrip(t *testing.T) {
	cfg := mustParse(t, originalShape, nil)
	b, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again := mustParse(t, string(b), nil)
	cfg.origin, again.origin = nil, nil
	if !reflect.DeepEqual(cfg.Storage, again.Storage) {
		t.Errorf("the printed configuration reads back differently:\n%s", b)
	}
	if clone := cfg.Clone(); !reflect.DeepEqual(clone.Storage, cfg.Storage) {
		t.Error("Clone lost job settings")
	}
}

func TestJobsFromEnv(t *testing.T) {
	cfg := mustParse(t, "storage:\n  lifecycle:\n    tick_interval: 2h\n", map[string]string{
		"DGP_STORAGE_LIFECYCLE_TICK_INTERVAL":        "2d",
		"DGP_STORAGE_REPLICATION_HEARTBEAT_INTERVAL": "5s",
	})
	if cfg.Storage.Lifecycle.TickInterval != 48*time.Hour || cfg.Storage.Replication.HeartbeatInterval != 5*time.Second {
		t.Errorf("env: %+v %+v", cfg.Storage.Lifecycle, cfg.Storage.Replication)
	}
	list := parseErrors(t, "", map[string]string{"DGP_STORAGE_REPLICATION_HEARTBEAT_INTERVAL": "2m"})
	if !hasError(list, "storage.replication.heartbeat_interval", "less than storage.replication.lease_ttl") ||
		list[0].Env != "DGP_STORAGE_REPLICATION_HEARTBEAT_INTERVAL" {
		t.Errorf("heartbeat from env: %q", lines(list))
	}
}

func TestJobsWarnings(t *testing.T) {
	_, warnings, err := Parse("t.yaml", []byte(`
storage:
  replication:
    enabled: false
    rules:
      - {name: r, source: {bucket: src-b}, destination: {bucket: dst-b}}
  lifecycle:
    rules:
      - {name: keep, bucket: logs-b, action: {type: retain-newest, count: 3}, expire_after: 1d}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"storage.replication.enabled: false: no replication rule runs",
		"storage.lifecycle.enabled: false (the default): no lifecycle rule runs (preview works)",
		"storage.lifecycle.rules[0].expire_after: ignored by retain-newest (use qualify.min_age or protect_younger_than)",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", warnings, want)
	}
}

func TestParseDurationUnits(t *testing.T) {
	good := map[string]time.Duration{
		"30s": 30 * time.Second, "1h30m": 90 * time.Minute, "30d": 720 * time.Hour, "1w": 168 * time.Hour,
		"1w2d12h": (7*24 + 2*24 + 12) * time.Hour, "1.5d": 36 * time.Hour, " 2d ": 48 * time.Hour, "-1d": -24 * time.Hour,
		"0": 0,
	}
	for s, want := range good {
		if got, err := parseDuration(s); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "3dd", "1x2d", "forever", "2d5", "200000000w", "1d-2h", "days"} {
		if got, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", s, got)
		}
	}
}
