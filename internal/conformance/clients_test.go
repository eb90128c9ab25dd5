//go:build integration

package conformance

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// fixture is a local directory tree the client suites upload and compare.
type fixture map[string][]byte // slash path -> content

// defaultFixture has a nested tree, a key with a space and a 1 MiB file.
func defaultFixture() fixture {
	return fixture{
		"a.txt":          []byte("alpha\n"),
		"sub/b.txt":      []byte("bravo bravo\n"),
		"sub/deep/c.md":  []byte("# charlie\n"),
		"with space.txt": []byte("space\n"),
		"big.bin":        testutil.Pattern(1 << 20),
	}
}

// write puts the fixture under dir.
func (f fixture) write(t *testing.T, dir string) {
	t.Helper()
	for p, b := range f {
		full := filepath.Join(dir, filepath.FromSlash(p))
		testutil.Must(t, os.MkdirAll(filepath.Dir(full), 0o755), "mkdir")
		testutil.Must(t, os.WriteFile(full, b, 0o644), "write %s", full)
	}
}

// keys returns the fixture's paths, sorted, each prefixed.
func (f fixture) keys(prefix string) []string {
	out := make([]string, 0, len(f))
	for p := range f {
		out = append(out, prefix+p)
	}
	sort.Strings(out)
	return out
}

// assertTree checks that dir holds exactly the fixture's files and bytes.
func (f fixture) assertTree(t *testing.T, dir string) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	testutil.Must(t, err, "walk %s", dir)
	for p, want := range f {
		if !bytes.Equal(got[p], want) {
			t.Errorf("%s: got %d bytes, want %d (%q...)", p, len(got[p]), len(want), head(got[p]))
		}
		delete(got, p)
	}
	for p := range got {
		t.Errorf("unexpected file %s", p)
	}
}

func head(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

// fetch GETs url (a presigned URL) with tg's HTTP client and returns the body.
func fetch(t *testing.T, tg *target, url string) (int, []byte) {
	t.Helper()
	resp, err := tg.HTTPClient().Get(url)
	testutil.Must(t, err, "GET %s", url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	testutil.Must(t, err, "read %s", url)
	return resp.StatusCode, b
}

// assertEqualLines fails unless got holds exactly want (order ignored).
func assertEqualLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s:\n got  %q\n want %q", what, g, w)
	}
}

// nonEmptyLines splits out into trimmed non-empty lines.
func nonEmptyLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// cleanupBucket empties and deletes bucket on tg when the test ends.
func cleanupBucket(t *testing.T, tg *target, bucket string) {
	t.Cleanup(func() { cleanupBuckets(t, tg, map[string]string{"b": bucket}, 0) })
}

func mustStatus(t *testing.T, what string, got, want int, body []byte) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d: %s", what, got, want, head(body))
	}
}
