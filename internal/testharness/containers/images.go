package containers

// Test images built locally, FROM scratch: no registry is reachable, so
// the images are assembled from binaries the machine has (MinIO, nats-server,
// busybox, mc) and from dgp built from the repository. Each image is a tar
// archive written here and ADDed by Docker's classic builder (which extracts
// it keeping owners and links); its tag is the hash of its inputs, so an
// image that exists already is not built again.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ImageOptions are the inputs of BuildImages.
type ImageOptions struct {
	// RepoRoot is the dgp repository (or a worktree of it) whose cmd/dgp and
	// infra/docker/healthcheck are built into the dgp image.
	RepoRoot string
	// MinIOBin and BusyboxBin must be static binaries; NATSBin may be
	// dynamically linked (its libraries are copied). MCBin, the real mc,
	// is optional: without it there is no MC image and the MinIO image has
	// no mc.
	MinIOBin, NATSBin, BusyboxBin, MCBin string
	// Tag is the repository prefix of the images ("dgp-test" by default):
	// <Tag>/dgp:<hash>, <Tag>/minio:<hash>, ...
	Tag string
	// Version is the dgp version stamped into the binary ("dev" by default).
	Version string
	// Log receives progress and the builder's output (discarded when nil).
	Log io.Writer
}

// Images are the references of the built images.
type Images struct {
	DGP, MinIO, NATS, MC string // MC is empty without ImageOptions.MCBin
}

// dgpDockerfile mirrors the runtime stage of infra/docker/Dockerfile.
const dgpDockerfile = `FROM scratch
ADD rootfs.tar /
ENV DGP_DATA_DIR=/data \
    DGP_LISTEN_ADDR=0.0.0.0:9000 \
    DGP_LOG_FORMAT=json
USER 65532:65532
VOLUME ["/data"]
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/dgp-healthcheck"]
ENTRYPOINT ["/usr/local/bin/dgp"]
CMD ["serve"]
`

// minioDockerfile: the entrypoint is minio itself (the official image's
// script only prepends "minio" to arguments such as "server").
const minioDockerfile = `FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root \
    MC_CONFIG_DIR=/tmp/.mc
VOLUME ["/data"]
EXPOSE 9000 9090
ENTRYPOINT ["/usr/bin/minio"]
CMD ["server", "/data"]
`

// natsDockerfile: arguments such as "-js -sd /data -m 8222" go to
// nats-server, as the official image's entrypoint does.
const natsDockerfile = `FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EXPOSE 4222 6222 8222
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["-m", "8222"]
`

const mcDockerfile = `FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root
ENTRYPOINT ["/usr/bin/mc"]
`

// BuildImages builds (or finds, by the hash of their inputs) the dgp,
// MinIO, NATS and, with MCBin, mc images.
func BuildImages(ctx context.Context, o ImageOptions) (Images, error) {
	if o.RepoRoot == "" || o.MinIOBin == "" || o.NATSBin == "" || o.BusyboxBin == "" {
		return Images{}, errors.New("containers: BuildImages needs RepoRoot, MinIOBin, NATSBin and BusyboxBin")
	}
	if o.Tag == "" {
		o.Tag = "dgp-test"
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	work, err := os.MkdirTemp("", "dgp-images-")
	if err != nil {
		return Images{}, err
	}
	defer os.RemoveAll(work)

	var imgs Images
	if imgs.DGP, err = buildDGPImage(ctx, o, work); err != nil {
		return Images{}, err
	}
	if imgs.MinIO, err = buildMinIOImage(ctx, o, work); err != nil {
		return Images{}, err
	}
	if imgs.NATS, err = buildNATSImage(ctx, o, work); err != nil {
		return Images{}, err
	}
	if o.MCBin != "" {
		if imgs.MC, err = buildMCImage(ctx, o, work); err != nil {
			return Images{}, err
		}
	}
	return imgs, nil
}

func buildDGPImage(ctx context.Context, o ImageOptions, work string) (string, error) {
	bin := filepath.Join(work, "dgp-bin")
	builds := []struct{ out, pkg, ldflags string }{
		{"dgp", "./cmd/dgp", "-s -w -X main.version=" + o.Version},
		{"dgp-healthcheck", "./infra/docker/healthcheck", "-s -w"},
	}
	for _, b := range builds {
		fmt.Fprintf(o.Log, "containers: go build %s\n", b.pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags", b.ldflags, "-o", filepath.Join(bin, b.out), b.pkg)
		cmd.Dir = o.RepoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("containers: go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	r := newRootfs()
	r.base()
	r.file("/usr/local/bin/dgp", filepath.Join(bin, "dgp"), 0o755)
	r.file("/usr/local/bin/dgp-healthcheck", filepath.Join(bin, "dgp-healthcheck"), 0o755)
	r.dir("/data", 0o755, 65532, 65532)
	return buildImage(ctx, o, work, "dgp", r, dgpDockerfile)
}

func buildMinIOImage(ctx context.Context, o ImageOptions, work string) (string, error) {
	if err := requireStatic(o.MinIOBin); err != nil {
		return "", fmt.Errorf("containers: minio: %w", err)
	}
	r := newRootfs()
	r.base()
	r.file("/usr/bin/minio", o.MinIOBin, 0o755)
	if o.MCBin != "" {
		if err := r.program(ctx, "/usr/bin/mc", o.MCBin); err != nil {
			return "", fmt.Errorf("containers: mc: %w", err)
		}
	}
	if err := r.busybox(ctx, o.BusyboxBin); err != nil {
		return "", fmt.Errorf("containers: %w", err)
	}
	r.dir("/data", 0o755, 0, 0)
	return buildImage(ctx, o, work, "minio", r, minioDockerfile)
}

func buildNATSImage(ctx context.Context, o ImageOptions, work string) (string, error) {
	r := newRootfs()
	r.base()
	if err := r.program(ctx, "/usr/local/bin/nats-server", o.NATSBin); err != nil {
		return "", fmt.Errorf("containers: nats-server: %w", err)
	}
	if err := r.busybox(ctx, o.BusyboxBin); err != nil {
		return "", fmt.Errorf("containers: %w", err)
	}
	r.dir("/data", 0o755, 0, 0)
	return buildImage(ctx, o, work, "nats", r, natsDockerfile)
}

func buildMCImage(ctx context.Context, o ImageOptions, work string) (string, error) {
	r := newRootfs()
	r.base()
	if err := r.program(ctx, "/usr/bin/mc", o.MCBin); err != nil {
		return "", fmt.Errorf("containers: mc: %w", err)
	}
	if err := r.busybox(ctx, o.BusyboxBin); err != nil {
		return "", fmt.Errorf("containers: %w", err)
	}
	return buildImage(ctx, o, work, "mc", r, mcDockerfile)
}

// buildImage builds <Tag>/<name>:<hash of r and dockerfile> unless it
// exists, and returns the reference.
func buildImage(ctx context.Context, o ImageOptions, work, name string, r *rootfs, dockerfile string) (string, error) {
	sum, err := r.hash(dockerfile)
	if err != nil {
		return "", fmt.Errorf("containers: %s image inputs: %w", name, err)
	}
	ref := o.Tag + "/" + name + ":" + sum[:20]
	// One build of these inputs at a time on this machine (test binaries
	// run in parallel): a second one would leave the first's image untagged.
	unlock, err := lockInputs(filepath.Join(os.TempDir(), "dgp-test-image-"+sum[:20]+".lock"))
	if err != nil {
		return "", fmt.Errorf("containers: %s image lock: %w", name, err)
	}
	defer unlock()
	exists, err := ImageExists(ctx, ref)
	if err != nil {
		return "", err
	}
	if exists {
		fmt.Fprintf(o.Log, "containers: %s exists\n", ref)
		return ref, nil
	}
	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := r.writeTar(filepath.Join(dir, "rootfs.tar")); err != nil {
		return "", fmt.Errorf("containers: %s rootfs: %w", name, err)
	}
	df := dockerfile + "LABEL dgp.test.image=" + name + " dgp.test.inputs=" + sum + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(o.Log, "containers: building %s\n", ref)
	// The classic builder: it needs no base image and no buildx plugin.
	out, err := imgDocker(ctx, []string{"DOCKER_BUILDKIT=0"}, "build", "--pull=false", "-q", "-t", ref, dir)
	if err != nil {
		return "", fmt.Errorf("containers: build %s: %w", ref, err)
	}
	fmt.Fprintf(o.Log, "containers: built %s (%s)\n", ref, strings.TrimSpace(out))
	return ref, nil
}

// ImageExists reports whether the engine has the image ref.
func ImageExists(ctx context.Context, ref string) (bool, error) {
	cmd := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && strings.Contains(strings.ToLower(stderr.String()), "no such image") {
			return false, nil
		}
		return false, fmt.Errorf("containers: docker image inspect %s: %w: %s", ref, err, strings.TrimSpace(stderr.String()))
	}
	return true, nil
}

// TagAs gives the image src the additional reference dst (docker tag).
func TagAs(ctx context.Context, src, dst string) error {
	if _, err := imgDocker(ctx, nil, "tag", src, dst); err != nil {
		return fmt.Errorf("containers: tag %s as %s: %w", src, dst, err)
	}
	return nil
}

// Untag removes the reference ref (docker rmi --no-prune): the image stays
// while another reference names it, and is removed with its last one.
func Untag(ctx context.Context, ref string) error {
	if _, err := imgDocker(ctx, nil, "rmi", "--no-prune", ref); err != nil {
		return fmt.Errorf("containers: untag %s: %w", ref, err)
	}
	return nil
}

// imgDocker runs the docker CLI with extra environment and returns its
// standard output; the error carries its standard error.
func imgDocker(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
