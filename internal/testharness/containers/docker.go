package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LabelKey is the label on every container, network and volume a Docker
// creates; its value is the Docker's run id, so Cleanup removes exactly what
// this run made and nothing else on the engine.
const LabelKey = "dgp.testharness.run"

// Docker runs containers through the docker CLI. Everything it creates
// carries the label LabelKey=RunID; Cleanup removes it all.
type Docker struct {
	// Bin is the docker CLI (default "docker").
	Bin string
	// RunID labels what this Docker creates (required).
	RunID string
	// Log receives one line per docker command (nil: none).
	Log io.Writer
}

// NewDocker returns a Docker for runID using the docker CLI on $PATH.
func NewDocker(runID string, log io.Writer) *Docker {
	return &Docker{Bin: "docker", RunID: runID, Log: log}
}

// Label is the "key=value" label of this run.
func (d *Docker) Label() string { return LabelKey + "=" + d.RunID }

// Cmd runs docker with args and returns its standard output, trimmed. The
// error carries the command's standard error.
func (d *Docker) Cmd(ctx context.Context, args ...string) (string, error) {
	bin := d.Bin
	if bin == "" {
		bin = "docker"
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if d.Log != nil {
		fmt.Fprintf(d.Log, "docker %s (%s)\n", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// RunOptions describe a container for Run.
type RunOptions struct {
	Name    string
	Image   string
	Network string   // the network it starts on ("" = the default bridge)
	Aliases []string // DNS names on Network besides Name
	Env     []string // KEY=value
	// Publish are container ports ("9000" or "9000/tcp") published on an
	// ephemeral port of 127.0.0.1 (HostPort tells which).
	Publish []string
	Volumes []string // "volume-or-path:/container/path[:ro]"
	User    string
	Cmd     []string // arguments after the image
	// Entrypoint overrides the image's entrypoint (one executable path).
	Entrypoint string
	// Init runs docker's tiny init as PID 1 (signals forwarded, zombies reaped).
	Init bool
}

// Run starts a detached container and returns its id.
func (d *Docker) Run(ctx context.Context, o RunOptions) (string, error) {
	args, err := d.runArgs("run", o)
	if err != nil {
		return "", err
	}
	return d.Cmd(ctx, args...)
}

// Create creates the container without starting it (connect it to more
// networks, then Start it) and returns its id.
func (d *Docker) Create(ctx context.Context, o RunOptions) (string, error) {
	args, err := d.runArgs("create", o)
	if err != nil {
		return "", err
	}
	return d.Cmd(ctx, args...)
}

func (d *Docker) runArgs(verb string, o RunOptions) ([]string, error) {
	if o.Name == "" || o.Image == "" {
		return nil, errors.New("docker " + verb + ": name and image are required")
	}
	args := []string{verb, "--name", o.Name, "--label", d.Label()}
	if verb == "run" {
		args = append(args, "-d")
	}
	if o.Network != "" {
		args = append(args, "--network", o.Network)
		for _, a := range o.Aliases {
			args = append(args, "--network-alias", a)
		}
	}
	for _, e := range o.Env {
		args = append(args, "-e", e)
	}
	for _, p := range o.Publish {
		args = append(args, "-p", "127.0.0.1::"+p)
	}
	for _, v := range o.Volumes {
		args = append(args, "-v", v)
	}
	if o.User != "" {
		args = append(args, "--user", o.User)
	}
	if o.Entrypoint != "" {
		args = append(args, "--entrypoint", o.Entrypoint)
	}
	if o.Init {
		args = append(args, "--init")
	}
	args = append(args, o.Image)
	return append(args, o.Cmd...), nil
}

// Kill sends signal (e.g. "KILL") to the container's main process.
func (d *Docker) Kill(ctx context.Context, name, signal string) error {
	_, err := d.Cmd(ctx, "kill", "-s", signal, name)
	return err
}

// Stop stops the container: SIGTERM, then SIGKILL after timeout.
func (d *Docker) Stop(ctx context.Context, name string, timeout time.Duration) error {
	_, err := d.Cmd(ctx, "stop", "-t", strconv.Itoa(int(timeout.Seconds())), name)
	return err
}

// Start starts a stopped container.
func (d *Docker) Start(ctx context.Context, name string) error {
	_, err := d.Cmd(ctx, "start", name)
	return err
}

// Restart stops (SIGTERM, SIGKILL after timeout) and starts the container.
func (d *Docker) Restart(ctx context.Context, name string, timeout time.Duration) error {
	_, err := d.Cmd(ctx, "restart", "-t", strconv.Itoa(int(timeout.Seconds())), name)
	return err
}

// Pause freezes every process of the container.
func (d *Docker) Pause(ctx context.Context, name string) error {
	_, err := d.Cmd(ctx, "pause", name)
	return err
}

// Unpause thaws a paused container.
func (d *Docker) Unpause(ctx context.Context, name string) error {
	_, err := d.Cmd(ctx, "unpause", name)
	return err
}

// Remove removes the container and its anonymous volumes, running or not.
func (d *Docker) Remove(ctx context.Context, name string) error {
	_, err := d.Cmd(ctx, "rm", "-f", "-v", name)
	return err
}

// NetworkOptions describe a network for NetworkCreate.
type NetworkOptions struct {
	// Internal: no gateway; its containers reach each other and nothing
	// else, and no port is published through it.
	Internal bool
	// Subnet in CIDR form ("" lets Docker pick); needed to give containers
	// fixed addresses (ConnectOptions.IP).
	Subnet string
}

// NetworkCreate creates a bridge network labelled with this run.
func (d *Docker) NetworkCreate(ctx context.Context, name string, o NetworkOptions) error {
	args := []string{"network", "create", "--driver", "bridge", "--label", d.Label()}
	if o.Internal {
		args = append(args, "--internal")
	}
	if o.Subnet != "" {
		args = append(args, "--subnet", o.Subnet)
	}
	_, err := d.Cmd(ctx, append(args, name)...)
	return err
}

// NetworkCreateFree creates a network (as NetworkCreate) on a /24 of
// 10.0.0.0/8 that no other network of the engine uses, picked at random
// and retried on overlap, and returns the subnet.
func (d *Docker) NetworkCreateFree(ctx context.Context, name string, internal bool) (string, error) {
	var err error
	for range 10 {
		var used map[string]bool
		if used, err = d.subnets(ctx); err != nil {
			return "", err
		}
		subnet := fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(150), rand.IntN(256))
		if used[subnet] {
			continue
		}
		if err = d.NetworkCreate(ctx, name, NetworkOptions{Internal: internal, Subnet: subnet}); err == nil {
			return subnet, nil
		}
		if !strings.Contains(err.Error(), "overlap") {
			return "", err
		}
	}
	return "", fmt.Errorf("network %s: no free subnet: %w", name, err)
}

// subnets returns the subnets of every network of the engine.
func (d *Docker) subnets(ctx context.Context) (map[string]bool, error) {
	ids, err := d.Cmd(ctx, "network", "ls", "-q")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	if ids == "" {
		return used, nil
	}
	out, err := d.Cmd(ctx, append([]string{"network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, strings.Fields(ids)...)...)
	if err != nil {
		return nil, err
	}
	for _, s := range strings.Fields(out) {
		used[s] = true
	}
	return used, nil
}

// HostInSubnet is the address n of a /24 subnet ("10.1.2.0/24", 7 ->
// "10.1.2.7"); 1 is the bridge's own address, so use 2-254.
func HostInSubnet(subnet string, n int) string {
	base, _, _ := strings.Cut(subnet, "/")
	return base[:strings.LastIndex(base, ".")+1] + strconv.Itoa(n)
}

// NetworkRemove removes a network.
func (d *Docker) NetworkRemove(ctx context.Context, name string) error {
	_, err := d.Cmd(ctx, "network", "rm", name)
	return err
}

// ConnectOptions describe a container's attachment to a network.
type ConnectOptions struct {
	// IP is a fixed address in the network's subnet: it stays the same
	// across restarts and reconnections, so a connection cut by a
	// disconnect can resume once the container is back.
	IP      string
	Aliases []string // DNS names on the network besides the container's
}

// NetworkConnect attaches a container to a network.
func (d *Docker) NetworkConnect(ctx context.Context, network, container string, o ConnectOptions) error {
	args := []string{"network", "connect"}
	if o.IP != "" {
		args = append(args, "--ip", o.IP)
	}
	for _, a := range o.Aliases {
		args = append(args, "--alias", a)
	}
	_, err := d.Cmd(ctx, append(args, network, container)...)
	return err
}

// NetworkDisconnect detaches a container from a network (forced, so that
// it works on a stopped container too).
func (d *Docker) NetworkDisconnect(ctx context.Context, network, container string) error {
	_, err := d.Cmd(ctx, "network", "disconnect", "-f", network, container)
	return err
}

// VolumeCreate creates a named volume labelled with this run.
func (d *Docker) VolumeCreate(ctx context.Context, name string) error {
	_, err := d.Cmd(ctx, "volume", "create", "--label", d.Label(), name)
	return err
}

// Inspect evaluates a Go template (docker inspect --format) on an object.
func (d *Docker) Inspect(ctx context.Context, name, format string) (string, error) {
	return d.Cmd(ctx, "inspect", "--format", format, name)
}

// IP is the container's address on network ("" when not attached).
func (d *Docker) IP(ctx context.Context, container, network string) (string, error) {
	return d.Inspect(ctx, container, `{{with index .NetworkSettings.Networks "`+network+`"}}{{.IPAddress}}{{end}}`)
}

// Networks lists the networks the container is attached to, sorted.
func (d *Docker) Networks(ctx context.Context, container string) ([]string, error) {
	out, err := d.Inspect(ctx, container, `{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}`)
	if err != nil {
		return nil, err
	}
	nets := strings.Fields(out)
	sort.Strings(nets)
	return nets, nil
}

// HostPort is the "127.0.0.1:port" that publishes the container's port
// ("9000" or "9000/tcp"). A restarted container may get another one.
func (d *Docker) HostPort(ctx context.Context, container, port string) (string, error) {
	out, err := d.Cmd(ctx, "port", container, port)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "127.0.0.1:") {
			return line, nil
		}
	}
	return "", fmt.Errorf("docker port %s %s: no 127.0.0.1 binding in %q", container, port, out)
}

// State is the container's state: running, exited, paused, restarting...
func (d *Docker) State(ctx context.Context, name string) (string, error) {
	return d.Inspect(ctx, name, "{{.State.Status}}")
}

// Health is the container's health check status (healthy, unhealthy,
// starting) or "none" when the image has no health check.
func (d *Docker) Health(ctx context.Context, name string) (string, error) {
	return d.Inspect(ctx, name, "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}")
}

// Logs returns the container's standard output and error, interleaved.
func (d *Docker) Logs(ctx context.Context, name string) (string, error) {
	bin := d.Bin
	if bin == "" {
		bin = "docker"
	}
	out, err := exec.CommandContext(ctx, bin, "logs", name).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker logs %s: %w", name, err)
	}
	return string(out), nil
}

// CopyFrom copies a file or directory out of a container (running or
// stopped) to dst on the host.
func (d *Docker) CopyFrom(ctx context.Context, container, path, dst string) error {
	_, err := d.Cmd(ctx, "cp", container+":"+path, dst)
	return err
}

// Build builds an image from the directory dir (it holds the Dockerfile)
// and tags it. The image carries the run's label only as metadata: images
// are not removed by Cleanup, so a later run reuses the layers.
func (d *Docker) Build(ctx context.Context, dir, tag string) error {
	_, err := d.Cmd(ctx, "build", "-q", "-t", tag, dir)
	return err
}

// Cleanup removes every container (with its anonymous volumes), network
// and volume labelled with this run. It uses a fresh context bounded by
// timeout so that it runs even after the caller's context ended, and
// returns the first error after trying everything.
func (d *Docker) Cleanup(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	filter := "label=" + d.Label()
	var errs []error
	if ids, err := d.Cmd(ctx, "ps", "-aq", "--filter", filter); err != nil {
		errs = append(errs, err)
	} else if ids != "" {
		if _, err := d.Cmd(ctx, append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if ids, err := d.Cmd(ctx, "network", "ls", "-q", "--filter", filter); err != nil {
		errs = append(errs, err)
	} else if ids != "" {
		if _, err := d.Cmd(ctx, append([]string{"network", "rm"}, strings.Fields(ids)...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if ids, err := d.Cmd(ctx, "volume", "ls", "-q", "--filter", filter); err != nil {
		errs = append(errs, err)
	} else if ids != "" {
		if _, err := d.Cmd(ctx, append([]string{"volume", "rm", "-f"}, strings.Fields(ids)...)...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists what Cleanup would remove ("container <id>", "network
// <id>", "volume <name>"); empty after a successful Cleanup.
func (d *Docker) Leftovers(ctx context.Context) ([]string, error) {
	filter := "label=" + d.Label()
	var out []string
	for _, kind := range []struct{ name, q string }{{"container", "ps -aq"}, {"network", "network ls -q"}, {"volume", "volume ls -q"}} {
		ids, err := d.Cmd(ctx, append(strings.Fields(kind.q), "--filter", filter)...)
		if err != nil {
			return nil, err
		}
		for _, id := range strings.Fields(ids) {
			out = append(out, kind.name+" "+id)
		}
	}
	return out, nil
}
