package checks

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the dgp repository (the directory of the main go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/dgp-proxy/dgp\n") {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no dgp repository above %s", dir)
		}
	}
}

// contract is what docs/configuration.md promises: every DGP_* variable and
// every configuration key (with <name> and [] placeholders for maps and lists).
type contract struct {
	env  map[string]bool
	keys map[string]bool
	// defaults of keys whose default column is a plain value.
	defaults map[string]string
}

var (
	contractOnce sync.Once
	contractVal  contract
	contractErr  string
)

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	envName    = regexp.MustCompile(`^DGP_[A-Z0-9_]+$`)
	keyName    = regexp.MustCompile(`^(access|storage|advanced)\.[a-z0-9_.\[\]<>]+$`)
)

// loadContract parses the tables of docs/configuration.md. A key renamed
// there breaks every check that uses the old name.
func loadContract(t testing.TB) contract {
	t.Helper()
	root := repoRoot(t)
	contractOnce.Do(func() {
		f, err := os.Open(filepath.Join(root, "docs", "configuration.md"))
		if err != nil {
			contractErr = err.Error()
			return
		}
		defer f.Close()
		c := contract{env: map[string]bool{}, keys: map[string]bool{}, defaults: map[string]string{}}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "| ") {
				continue
			}
			cells := strings.Split(strings.Trim(line, "|"), "|")
			var key string
			for i, cell := range cells {
				for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
					switch {
					case i == 0 && keyName.MatchString(m[1]):
						key = m[1]
						c.keys[key] = true
					case i <= 1 && envName.MatchString(m[1]):
						c.env[m[1]] = true
					}
				}
			}
			// | key | environment | default | meaning |
			if key != "" && len(cells) >= 4 {
				if m := backticked.FindStringSubmatch(cells[2]); m != nil {
					c.defaults[key] = m[1]
				}
			}
		}
		if err := sc.Err(); err != nil {
			contractErr = err.Error()
			return
		}
		if len(c.env) < 20 || len(c.keys) < 20 {
			contractErr = "docs/configuration.md: found too few keys; did its tables change shape?"
			return
		}
		contractVal = c
	})
	if contractErr != "" {
		t.Fatal(contractErr)
	}
	return contractVal
}

// checkEnvNames fails for every DGP_* name that is not in the contract and
// every other name not in allowed.
func (c contract) checkEnvNames(t testing.TB, where string, names []string, allowed ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, n := range names {
		switch {
		case c.env[n]:
		case ok[n]:
		case strings.HasPrefix(n, "DGP_"):
			t.Errorf("%s: %s is not a dgp setting (docs/configuration.md)", where, n)
		default:
			t.Errorf("%s: unexpected variable %s", where, n)
		}
	}
}

// checkConfigKeys fails for every key of a dgp YAML config that is not in
// the contract. Maps of names (storage.buckets.<name>) and lists of objects
// (storage.backends[]) follow the reference's placeholders.
func (c contract) checkConfigKeys(t testing.TB, where string, doc map[string]any) {
	t.Helper()
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if !c.known(p) {
					// a map of names: storage.buckets.<name>
					if c.known(prefix + ".<name>") {
						p = prefix + ".<name>"
					} else {
						t.Errorf("%s: %s is not a dgp configuration key", where, p)
						continue
					}
				}
				walk(p, sub)
			}
		case []any:
			if c.hasPrefix(prefix + "[].") {
				for _, e := range x {
					walk(prefix+"[]", e)
				}
			}
		}
	}
	walk("", doc)
}

// known: p is a key, or a section / map / list holding keys.
func (c contract) known(p string) bool {
	return c.keys[p] || c.hasPrefix(p+".") || c.hasPrefix(p+"[]")
}

func (c contract) hasPrefix(p string) bool {
	for k := range c.keys {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// routes returns the HTTP routes dgp's composition root registers under
// /_/ (from the method patterns in internal/app/app.go), e.g. "/_/health".
func routes(t testing.TB) map[string]bool {
	t.Helper()
	lits := stringLiterals(t, filepath.Join(repoRoot(t), "internal", "app", "app.go"), "")
	out := map[string]bool{}
	re := regexp.MustCompile(`^(GET|HEAD) (/_/\S+)$`)
	for _, l := range lits {
		if m := re.FindStringSubmatch(l); m != nil {
			out[m[2]] = true
		}
	}
	if !out["/_/health"] {
		t.Fatalf("internal/app/app.go registers no GET /_/health (found %v): the checks need updating", keys(out))
	}
	return out
}

// probeKeyName returns the name prefix of the config-sync startup probe's
// throwaway object (".dgp-probe-"), read from internal/configsync/probe.go's
// probeKey, so that a change there breaks the Terraform check.
func probeKeyName(t testing.TB) string {
	t.Helper()
	for _, l := range stringLiterals(t, filepath.Join(repoRoot(t), "internal", "configsync", "probe.go"), "probeKey") {
		if strings.HasPrefix(l, ".") && strings.HasSuffix(l, "-") {
			return l
		}
	}
	t.Fatal("internal/configsync/probe.go: no key name prefix in probeKey: the checks need updating")
	return ""
}

// fleetStatusPrefix is the key prefix of the fleet status objects, read
// from internal/fleetstatus/status.go (the only literal of that form there).
func fleetStatusPrefix(t testing.TB) string {
	t.Helper()
	for _, l := range stringLiterals(t, filepath.Join(repoRoot(t), "internal", "fleetstatus", "status.go"), "") {
		if strings.HasPrefix(l, ".deltaglider/") && strings.HasSuffix(l, "/") {
			return l
		}
	}
	t.Fatal("internal/fleetstatus/status.go: no status key prefix: the checks need updating")
	return ""
}

// stringLiterals lists the string literals of a Go file, or of one of its
// functions when fn is not empty.
func stringLiterals(t testing.TB, path, fn string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var out []string
	var node ast.Node = f
	if fn != "" {
		node = nil
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == fn {
				node = fd
			}
		}
		if node == nil {
			t.Fatalf("%s: no func %s", path, fn)
		}
	}
	ast.Inspect(node, func(n ast.Node) bool {
		if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			if s, err := strconv.Unquote(bl.Value); err == nil {
				out = append(out, s)
			}
		}
		return true
	})
	return out
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestContractIsReadable(t *testing.T) {
	c := loadContract(t)
	for _, n := range []string{"DGP_CONFIG_SYNC_BUCKET", "DGP_CONFIG_SYNC_KEY", "DGP_BOOTSTRAP_PASSWORD", "DGP_DATA_DIR", "DGP_CONFIG"} {
		if !c.env[n] {
			t.Errorf("docs/configuration.md lacks %s", n)
		}
	}
	for _, k := range []string{"advanced.config_sync_sqs.queue_url", "advanced.config_sync_role", "storage.buckets.<name>.alias", "storage.backends[].name"} {
		if !c.keys[k] {
			t.Errorf("docs/configuration.md lacks key %s", k)
		}
	}
	if got := c.defaults["advanced.config_sync_object_key"]; got != ".deltaglider/config.db" {
		t.Errorf("default of advanced.config_sync_object_key = %q", got)
	}
	if c.env["DGP_NOT_A_SETTING"] {
		t.Error("the parser accepts anything")
	}
	r := routes(t)
	for _, p := range []string{"/_/health", "/_/ready", "/_/metrics"} {
		if !r[p] {
			t.Errorf("app.go does not route %s (routes: %v)", p, keys(r))
		}
	}
	if got := probeKeyName(t); got != ".dgp-probe-" {
		t.Logf("probe key prefix is now %q", got)
	}
}
