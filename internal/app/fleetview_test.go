package app

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/fleetstatus"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Without config sync the fleet view lists this instance alone, from its
// local state, and sync-now explains why it cannot pull.
func TestFleetViewWithoutSync(t *testing.T) {
	cfg := config.Default()
	cfg.Advanced.DataDir = t.TempDir()
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Advanced.NodeID = "solo-node"
	cfg.Advanced.AdvertiseURL = "http://solo.example:9000"
	cfg.Access.AccessKeyID = "TESTROOTACCESSKEY000"
	cfg.Access.SecretAccessKey = "testRootSecretKey0000000000000000000000000"
	cfg.Access.BootstrapPassword = "test-bootstrap-password"
	testutil.Must(t, cfg.Validate(), "config")
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Options{Config: cfg, Logger: zerolog.Nop(), Stderr: io.Discard})
	if err != nil {
		cancel()
		t.Fatalf("new: %v", err)
	}
	in := &instance{app: a, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Run(ctx) }()
	t.Cleanup(in.stop)

	c := in.admin(t)
	c.login(cfg.Access.BootstrapPassword)
	c.must(http.StatusCreated, http.MethodPost, "/users", map[string]any{"name": "local-user"}, nil)
	var v fleetstatus.View
	c.must(http.StatusOK, http.MethodGet, "/fleet", nil, &v)
	if len(v.Instances) != 1 {
		t.Fatalf("view %+v, want this instance alone", v)
	}
	me := v.Instances[0]
	if me.Node != "solo-node" || !me.Self || me.Stale || me.Behind || me.Role != "writer" ||
		me.Generation == 0 || me.Generation != v.BucketGeneration || me.AdminURL != cfg.Advanced.AdvertiseURL || me.Version == "" {
		t.Errorf("instance %+v (bucket generation %d)", me, v.BucketGeneration)
	}
	var e struct {
		Code string `json:"error"`
	}
	if got := c.do(http.MethodPost, "/fleet/solo-node/sync-now", nil, &e); got != http.StatusNotFound || e.Code != "sync_disabled" {
		t.Errorf("local sync-now without sync: %d %s, want 404 sync_disabled", got, e.Code)
	}
	if got := c.do(http.MethodPost, "/fleet/other/sync-now", nil, &e); got != http.StatusNotFound || e.Code != "not_found" {
		t.Errorf("sync-now of an unknown node: %d %s, want 404 not_found", got, e.Code)
	}
}
