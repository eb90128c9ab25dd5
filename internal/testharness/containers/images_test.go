//go:build integration

package containers_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testharness/containers"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// imageOptions returns the inputs of BuildImages from the environment,
// skipping the test without DGP_TEST_DOCKER=1.
func imageOptions(t *testing.T) containers.ImageOptions {
	t.Helper()
	if os.Getenv("DGP_TEST_DOCKER") != "1" {
		t.Skip("DGP_TEST_DOCKER not set (run through .ci/run)")
	}
	o := containers.ImageOptions{
		MinIOBin:   os.Getenv("DGP_TEST_MINIO_BIN"),
		NATSBin:    os.Getenv("DGP_TEST_NATS_SERVER_BIN"),
		BusyboxBin: os.Getenv("DGP_TEST_BUSYBOX"),
		MCBin:      os.Getenv("DGP_TEST_MC"),
		Log:        testWriter{t},
	}
	for name, v := range map[string]string{"DGP_TEST_MINIO_BIN": o.MinIOBin,
		"DGP_TEST_NATS_SERVER_BIN": o.NATSBin, "DGP_TEST_BUSYBOX": o.BusyboxBin} {
		if v == "" {
			t.Fatalf("DGP_TEST_DOCKER=1 needs %s", name)
		}
	}
	wd, err := os.Getwd()
	testutil.Must(t, err, "getwd")
	o.RepoRoot = filepath.Join(wd, "..", "..", "..")
	if _, err := os.Stat(filepath.Join(o.RepoRoot, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", o.RepoRoot, err)
	}
	return o
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestImagesStartAndAnswer runs a container of each image the way the
// compose file and the chaos harness do and asks each its health question.
func TestImagesStartAndAnswer(t *testing.T) {
	o := imageOptions(t)
	ctx := context.Background()
	imgs, err := containers.BuildImages(ctx, o)
	testutil.Must(t, err, "build images")
	if (imgs.MC != "") != (o.MCBin != "") {
		t.Fatalf("MC image %q with DGP_TEST_MC=%q", imgs.MC, o.MCBin)
	}
	// Built once, found the second time (same inputs, same tag).
	again, err := containers.BuildImages(ctx, o)
	testutil.Must(t, err, "build images again")
	if again != imgs {
		t.Fatalf("second build gave %+v, first %+v", again, imgs)
	}

	t.Run("nats", func(t *testing.T) {
		id := run(t, "-p", "127.0.0.1::4222", "-p", "127.0.0.1::8222", imgs.NATS, "-js", "-sd", "/data", "-m", "8222")
		client, monitor := hostPort(t, id, "4222"), hostPort(t, id, "8222")
		testutil.RetryUntil(t, 30*time.Second, func() error { return natsInfo(client) })
		testutil.RetryUntil(t, 30*time.Second, func() error { return get200("http://" + monitor + "/healthz") })
		// The compose file's health check, inside the container.
		dockerExec(t, id, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz")
	})
	t.Run("minio", func(t *testing.T) {
		id := run(t, "-p", "127.0.0.1::9000", "-e", "MINIO_ROOT_USER=minioadmin", "-e", "MINIO_ROOT_PASSWORD=minioadmin",
			imgs.MinIO, "server", "/data", "--console-address", ":9090")
		addr := hostPort(t, id, "9000")
		testutil.RetryUntil(t, 60*time.Second, func() error { return get200("http://" + addr + "/minio/health/live") })
		dockerExec(t, id, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9000/minio/health/ready")
		if o.MCBin != "" {
			dockerExec(t, id, "mc", "ready", "local") // the compose file's health check
		}
	})
	t.Run("dgp", func(t *testing.T) {
		id := run(t, "-p", "127.0.0.1::9000", "-e", "DGP_BOOTSTRAP_PASSWORD=images-test-password",
			"-e", "DGP_STORAGE_FILESYSTEM=/data/objects", imgs.DGP)
		addr := hostPort(t, id, "9000")
		testutil.RetryUntil(t, 60*time.Second, func() error { return get200("http://" + addr + "/_/health") })
		dockerExec(t, id, "/usr/local/bin/dgp-healthcheck")
		if user := docker(t, "inspect", "--format", "{{.Config.User}}", id); user != "65532:65532" {
			t.Fatalf("dgp runs as %q, want 65532:65532", user)
		}
		// State is written to /data by the non-root user.
		testutil.RetryUntil(t, 30*time.Second, func() error {
			out, err := exec.Command("docker", "exec", id, "/usr/local/bin/dgp", "version").CombinedOutput()
			if err != nil {
				return fmt.Errorf("dgp version: %v: %s", err, out)
			}
			return nil
		})
	})
	if imgs.MC != "" {
		t.Run("mc", func(t *testing.T) {
			out := docker(t, "run", "--rm", "--entrypoint", "/bin/sh", imgs.MC, "-ec",
				`mc --version >/dev/null; touch "$HOME/written"; echo ok`)
			if out != "ok" {
				t.Fatalf("mc image: %q", out)
			}
		})
	}
}

// run starts a detached container and removes it when the test ends.
func run(t *testing.T, args ...string) string {
	t.Helper()
	id := docker(t, append([]string{"run", "-d", "--name", testutil.UniqueName("dgp-images-test")}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", "--tail", "50", id).CombinedOutput()
			t.Logf("container logs:\n%s", logs)
		}
		if out, err := exec.Command("docker", "rm", "-f", "-v", id).CombinedOutput(); err != nil {
			t.Errorf("docker rm %s: %v: %s", id, err, out)
		}
	})
	return id
}

// hostPort returns the 127.0.0.1 address published for the container port.
func hostPort(t *testing.T, id, port string) string {
	t.Helper()
	out := docker(t, "port", id, port+"/tcp")
	addr := strings.TrimSpace(strings.Split(out, "\n")[0])
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("port %s of %s published at %q", port, id, out)
	}
	return addr
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, exit.Stderr)
		}
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// dockerExec runs a command in the container until it succeeds (the server
// may still be starting), failing the test after a minute.
func dockerExec(t *testing.T, id string, cmd ...string) {
	t.Helper()
	testutil.RetryUntil(t, 60*time.Second, func() error {
		out, err := exec.Command("docker", append([]string{"exec", id}, cmd...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker exec %s: %v: %s", strings.Join(cmd, " "), err, out)
		}
		return nil
	})
}

func get200(url string) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// natsInfo checks that a NATS server greets a client with INFO.
func natsInfo(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("nats greeted %q", line)
	}
	return nil
}
