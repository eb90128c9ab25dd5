package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

// jobsTestYAML adds a replication rule to iamTestYAML's shape; %s is the
// data dir.
const jobsTestYAML = `
storage:
  backends:
    - {name: local, type: filesystem, path: %s/objects}
  replication:
    rules:
      - name: releases
        source: {bucket: releases}
        destination: {bucket: releases-dr}
`

// TestIAMPlanJobs: the plan shows the rules and what the data dir's
// lease objects say, after the IAM plan, whose exit status it keeps.
func TestIAMPlanJobs(t *testing.T) {
	t.Setenv("DGP_BOOTSTRAP_PASSWORD", iamTestPassword)
	t.Setenv("T_ALICE_SECRET", "alice-secret-0001")
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "dgp.yaml")
	writeFile(t, cfgFile, strings.ReplaceAll(iamTestYAML+jobsTestYAML, "%s", dataDir))

	// No jobs state yet: the rule, its hash, nothing read.
	out, errOut, code := runIAM(t, "iam", "plan", "--config", cfgFile)
	if code != 2 || !strings.Contains(out, `+ user "alice": create`) || !strings.Contains(out, "\nJobs:\n") ||
		!strings.Contains(out, "replication:releases: enabled, sha256:") || !strings.Contains(out, "were not read") {
		t.Fatalf("plan without jobs state: exit %d\n%s%s", code, out, errOut)
	}

	// Another instance of this data dir holds the lease.
	store, err := jobs.NewDirStore(filepath.Join(dataDir, app.JobsDir))
	if err != nil {
		t.Fatal(err)
	}
	m, err := lease.New(lease.Options{Store: store, Node: "node-x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Acquire(context.Background(), lease.KindReplication, "releases", "sha256:1111111111111111"); err != nil {
		t.Fatal(err)
	}
	writeDB(t, cfgFile)
	out, errOut, code = runIAM(t, "iam", "plan", "--config", cfgFile)
	if code != 0 || !strings.HasPrefix(out, "No changes") || !strings.Contains(out, "lease: held by node-x (token 1)") ||
		!strings.Contains(out, "definition: DIFFERS: the lease records sha256:1111111111111111") ||
		!strings.Contains(out, "this instance's only: no sync bucket") {
		t.Fatalf("plan with a held lease: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runIAM(t, "iam", "plan", "--offline", "--config", cfgFile); code != 0 ||
		strings.Contains(out, "node-x") || !strings.Contains(out, "were not read") {
		t.Fatalf("offline plan: exit %d\n%s%s", code, out, errOut)
	}

	// Not declarative: no IAM plan, the jobs plan all the same.
	gui := filepath.Join(dir, "gui.yaml")
	writeFile(t, gui, strings.ReplaceAll("advanced:\n  data_dir: %s\n"+jobsTestYAML, "%s", dataDir))
	out, errOut, code = runIAM(t, "iam", "plan", "--config", gui)
	if code != 0 || !strings.Contains(out, "not declarative: no IAM plan") || !strings.Contains(out, "lease: held by node-x") {
		t.Fatalf("gui mode with rules: exit %d\n%s%s", code, out, errOut)
	}
}

// TestIAMPlanLifecyclePreview: --lifecycle-preview lists the rule's scope
// on the configured backend and counts what a run would delete; the
// objects stay.
func TestIAMPlanLifecyclePreview(t *testing.T) {
	t.Setenv("DGP_BOOTSTRAP_PASSWORD", iamTestPassword)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	objects := filepath.Join(dataDir, "objects")
	ctx := context.Background()
	old := func() time.Time { return time.Now().Add(-40 * 24 * time.Hour) }
	fb, err := fsbackend.New("local", objects, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := fb.CreateBucket(ctx, "logs", storage.CreateBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"app/a", "app/b", "other/c"} {
		if _, err := fb.PutObject(ctx, "logs", k, strings.NewReader("12345"), 5, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "dgp.yaml")
	writeFile(t, cfgFile, strings.ReplaceAll(`advanced:
  data_dir: %s
storage:
  backends:
    - {name: local, type: filesystem, path: %s/objects}
  lifecycle:
    rules:
      - name: old-logs
        bucket: logs
        prefix: app/
        action: delete
        expire_after: 720h
`, "%s", dataDir))
	out, errOut, code := runIAM(t, "iam", "plan", "--offline", "--lifecycle-preview", "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "lifecycle:old-logs: disabled") ||
		!strings.Contains(out, "preview: 2 objects in scope, 2 to act on (10 bytes)") {
		t.Fatalf("lifecycle preview: exit %d\n%s%s", code, out, errOut)
	}
	res, err := fb.ListObjects(ctx, "logs", storage.ListOptions{MaxKeys: 10})
	if err != nil || len(res.Objects) != 3 {
		t.Fatalf("after the preview: %v %v", res, err)
	}
	if out, _, _ := runIAM(t, "iam", "plan", "--offline", "--config", cfgFile); strings.Contains(out, "preview:") {
		t.Fatalf("a preview without --lifecycle-preview:\n%s", out)
	}
}
