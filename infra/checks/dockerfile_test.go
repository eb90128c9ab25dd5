package checks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
	line int
}

// stage is the instructions of one FROM.
type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions (comments
// and parser directives dropped, backslash continuations joined).
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before FROM", path, in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	for i, l := range strings.Split(readFile(t, path), "\n") {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trim, "\\") {
			cur.WriteString(strings.TrimSuffix(trim, "\\") + " ")
			continue
		}
		cur.WriteString(trim)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// envOf collects ENV KEY=VALUE pairs of a stage.
func (s stage) envOf() map[string]string {
	out := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = v
			}
		}
	}
	return out
}

// The image: a static binary of the real main package (and of the health
// check) on a base without a shell, a non-root user, state in /data, dgp's
// port, and a HEALTHCHECK that runs a program the image contains.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "infra", "docker", "Dockerfile")
	stages := parseDockerfile(t, path)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if build.name == "" || !strings.HasPrefix(build.from, "golang:") {
		t.Errorf("build stage: FROM %s AS %q", build.from, build.name)
	}
	if !strings.Contains(final.from, "distroless/static") && final.from != "scratch" {
		t.Errorf("final base %s: want distroless/static or scratch (no shell, static binary)", final.from)
	}

	// The build: CGO off, -trimpath, and the packages it names exist as main packages.
	var runs strings.Builder
	for _, in := range build.all("RUN") {
		runs.WriteString(in.args + "\n")
	}
	benv := build.envOf()
	if benv["CGO_ENABLED"] != "0" && !strings.Contains(runs.String(), "CGO_ENABLED=0") {
		t.Error("the build does not set CGO_ENABLED=0")
	}
	outputs := map[string]string{} // -o path -> package
	for _, m := range regexp.MustCompile(`go build ([^&;]*?)-o (\S+) (\./\S+)`).FindAllStringSubmatch(runs.String(), -1) {
		if !strings.Contains(m[1], "-trimpath") {
			t.Errorf("go build of %s without -trimpath", m[3])
		}
		outputs[m[2]] = m[3]
		main := filepath.Join(root, filepath.FromSlash(m[3]))
		files, _ := filepath.Glob(filepath.Join(main, "*.go"))
		isMain := false
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") && regexp.MustCompile(`(?m)^package main$`).MatchString(readFile(t, f)) {
				isMain = true
			}
		}
		if !isMain {
			t.Errorf("go build %s: not a main package in the repository", m[3])
		}
	}
	if len(outputs) != 2 {
		t.Fatalf("want two binaries built (dgp and the health check), got %v", outputs)
	}

	// What the final stage copies from the build.
	copied := map[string]string{} // destination -> package
	for _, in := range final.all("COPY") {
		f := strings.Fields(in.args)
		if len(f) >= 3 && f[0] == "--from="+build.name {
			if pkg, ok := outputs[f[len(f)-2]]; ok {
				copied[f[len(f)-1]] = pkg
			}
		}
	}
	entry := final.all("ENTRYPOINT")
	if len(entry) != 1 {
		t.Fatal("want one ENTRYPOINT")
	}
	var entryArgv []string
	if err := json.Unmarshal([]byte(entry[0].args), &entryArgv); err != nil || copied[entryArgv[0]] != "./cmd/dgp" {
		t.Errorf("ENTRYPOINT %s is not the dgp binary copied from the build (%v)", entry[0].args, copied)
	}

	// Non-root, /data, port 9000.
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("no USER: the image would run as root")
	}
	u := strings.Split(users[len(users)-1].args, ":")[0]
	if u == "0" || u == "root" {
		t.Errorf("USER %s", users[len(users)-1].args)
	}
	fenv := final.envOf()
	loadContract(t).checkEnvNames(t, "Dockerfile ENV", keys(fenv))
	if fenv["DGP_DATA_DIR"] != "/data" {
		t.Errorf("DGP_DATA_DIR = %q, want /data", fenv["DGP_DATA_DIR"])
	}
	vol := final.all("VOLUME")
	if len(vol) != 1 || !strings.Contains(vol[0].args, `"/data"`) {
		t.Errorf("VOLUME: %+v", vol)
	}
	expose := final.all("EXPOSE")
	if len(expose) != 1 || expose[0].args != "9000" || !strings.HasSuffix(fenv["DGP_LISTEN_ADDR"], ":9000") {
		t.Errorf("EXPOSE %+v with DGP_LISTEN_ADDR %q", expose, fenv["DGP_LISTEN_ADDR"])
	}

	// The health check runs a program that is in the image (there is no shell).
	hc := final.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatal("want one HEALTHCHECK")
	}
	_, cmd, ok := strings.Cut(hc[0].args, "CMD ")
	var argv []string
	if !ok || json.Unmarshal([]byte(cmd), &argv) != nil || len(argv) == 0 {
		t.Fatalf("HEALTHCHECK %q: want the exec form CMD [\"...\"]", hc[0].args)
	}
	if copied[argv[0]] != "./infra/docker/healthcheck" {
		t.Errorf("HEALTHCHECK runs %s, which is not the health check built into the image (%v)", argv[0], copied)
	}
	// The health check's default URL is dgp's health route.
	if src := readFile(t, filepath.Join(root, "infra", "docker", "healthcheck", "main.go")); !strings.Contains(src, `"/_/health"`) || !routes(t)["/_/health"] {
		t.Error("the health check does not GET /_/health")
	}

	// The build context keeps what the build needs.
	ignore := readFile(t, path+".dockerignore")
	for _, l := range strings.Split(ignore, "\n") {
		l = strings.TrimSpace(l)
		for _, need := range []string{"go.mod", "go.sum", "cmd", "internal", "infra", "infra/docker"} {
			if l == need || l == need+"/" || l == "*" {
				t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", need)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "go.sum")); err != nil {
		t.Errorf("the build copies go.sum: %v", err)
	}
}
