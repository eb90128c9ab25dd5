//go:build integration

package containers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestDockerLifecycle drives one busybox container through everything the
// chaos harness does to its fleet, then checks that Cleanup leaves nothing
// of the run on the engine.
func TestDockerLifecycle(t *testing.T) {
	if os.Getenv("DGP_TEST_DOCKER") == "" {
		t.Skip("DGP_TEST_DOCKER not set")
	}
	busybox := os.Getenv("DGP_TEST_BUSYBOX")
	if busybox == "" {
		t.Fatal("DGP_TEST_DOCKER is set but DGP_TEST_BUSYBOX (a static busybox) is not")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	runID := fmt.Sprintf("dockertest-%d", time.Now().UnixNano())
	var log testutil.LogBuffer
	d := NewDocker(runID, &log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(log.String())
		}
	})
	t.Cleanup(func() {
		if err := d.Cleanup(time.Minute); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	dir := t.TempDir()
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	must(os.WriteFile(filepath.Join(dir, "busybox"), b, 0o755))
	must(os.MkdirAll(filepath.Join(dir, "www"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("hello from busybox\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(
		"FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT [\"/bin/busybox\"]\n"), 0o644))
	image := "dgp-dockertest-busybox:" + runID
	must(d.Build(ctx, dir, image))
	t.Cleanup(func() { _, _ = d.Cmd(context.Background(), "rmi", "-f", image) })

	net1, net2 := runID+"-a", runID+"-b"
	must(d.NetworkCreate(ctx, net1, NetworkOptions{}))
	subnet, err := d.NetworkCreateFree(ctx, net2, true)
	must(err)
	name := runID + "-web"
	_, err = d.Run(ctx, RunOptions{
		Name: name, Image: image, Network: net1, Aliases: []string{"web"},
		Publish: []string{"8080"}, Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
	})
	must(err)
	get := func() error {
		addr, err := d.HostPort(ctx, name, "8080")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			return fmt.Errorf("published on %s, want 127.0.0.1", addr)
		}
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "hello from busybox\n" {
			return fmt.Errorf("GET / = %d %q", resp.StatusCode, body)
		}
		return nil
	}
	testutil.RetryUntil(t, 30*time.Second, get)

	ip, err := d.IP(ctx, name, net1)
	must(err)
	if ip == "" {
		t.Fatalf("no address on %s", net1)
	}
	fixed := HostInSubnet(subnet, 10)
	must(d.NetworkConnect(ctx, net2, name, ConnectOptions{IP: fixed, Aliases: []string{"web2"}}))
	nets, err := d.Networks(ctx, name)
	must(err)
	if want := []string{net1, net2}; !slices.Equal(nets, want) {
		t.Fatalf("networks %v, want %v", nets, want)
	}
	must(d.NetworkDisconnect(ctx, net1, name))
	if ip, _ := d.IP(ctx, name, net1); ip != "" {
		t.Fatalf("still on %s at %s after disconnect", net1, ip)
	}
	must(d.NetworkConnect(ctx, net1, name, ConnectOptions{}))

	must(d.Pause(ctx, name))
	if st, _ := d.State(ctx, name); st != "paused" {
		t.Fatalf("state %q after pause", st)
	}
	must(d.Unpause(ctx, name))
	must(d.Kill(ctx, name, "KILL"))
	if st, _ := d.State(ctx, name); st != "exited" {
		t.Fatalf("state %q after SIGKILL", st)
	}
	must(d.Start(ctx, name))
	testutil.RetryUntil(t, 30*time.Second, get)
	must(d.Restart(ctx, name, time.Second))
	testutil.RetryUntil(t, 30*time.Second, get)
	if ip, _ := d.IP(ctx, name, net2); ip != fixed {
		t.Fatalf("address on %s after restart %q, want the fixed %s", net2, ip, fixed)
	}
	if h, _ := d.Health(ctx, name); h != "none" {
		t.Fatalf("health %q for an image without a health check", h)
	}

	out := filepath.Join(t.TempDir(), "index.html")
	must(d.CopyFrom(ctx, name, "/www/index.html", out))
	if b, _ := os.ReadFile(out); string(b) != "hello from busybox\n" {
		t.Fatalf("copied %q", b)
	}
	logs, err := d.Logs(ctx, name)
	must(err)
	_ = logs

	vol := runID + "-vol"
	must(d.VolumeCreate(ctx, vol))
	left, err := d.Leftovers(ctx)
	must(err)
	if len(left) != 4 { // the container, two networks, the volume
		t.Fatalf("leftovers before cleanup: %v", left)
	}
	must(d.Cleanup(time.Minute))
	left, err = d.Leftovers(ctx)
	must(err)
	if len(left) != 0 {
		t.Fatalf("leftovers after cleanup: %v", left)
	}
}
