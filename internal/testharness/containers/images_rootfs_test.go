package containers

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLddPaths(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd4b5f2000)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f7eb2303000)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f7eb24f8000)\n"
	got, err := lddPaths([]byte(out))
	want := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("lddPaths = %q, %v; want %q", got, err, want)
	}
	_, err = lddPaths([]byte(out + "\tlibmissing.so.1 => not found\n"))
	if err == nil || !strings.Contains(err.Error(), "libmissing.so.1") {
		t.Fatalf("a library not found: %v", err)
	}
}

// The archive holds what was added, with owners, modes and links, parents
// first; the hash follows content and metadata.
func TestRootfsTarAndHash(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "prog")
	if err := os.WriteFile(src, []byte("binary v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := func() *rootfs {
		r := newRootfs()
		r.file("/usr/local/bin/prog", src, 0o755)
		r.dir("/data", 0o755, 65532, 65532)
		r.symlink("/bin/sh", "busybox")
		r.text("/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
		return r
	}
	h1, err := build().hash("FROM scratch")
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := build().hash("FROM scratch"); h != h1 {
		t.Fatal("the same inputs hash differently")
	}
	if h, _ := build().hash("FROM scratch\nUSER 1"); h == h1 {
		t.Fatal("a different Dockerfile hashes the same")
	}
	r := build()
	r.dir("/data2", 0o755, 1, 1)
	if h, _ := r.hash("FROM scratch"); h == h1 {
		t.Fatal("another directory hashes the same")
	}

	tarPath := filepath.Join(dir, "rootfs.tar")
	if err := build().writeTar(tarPath); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		typ      byte
		mode     int64
		uid, gid int
		link     string
		body     string
	}
	got := map[string]entry{}
	var order []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, hdr.Name)
		got[hdr.Name] = entry{hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Linkname, string(body)}
	}
	wantOrder := []string{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/prog", "data/", "bin/", "bin/sh", "etc/", "etc/passwd"}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Fatalf("entries %q, want %q", order, wantOrder)
	}
	checks := map[string]entry{
		"usr/local/bin/prog": {tar.TypeReg, 0o755, 0, 0, "", "binary v1"},
		"data/":              {tar.TypeDir, 0o755, 65532, 65532, "", ""},
		"bin/sh":             {tar.TypeSymlink, 0o777, 0, 0, "busybox", ""},
		"etc/passwd":         {tar.TypeReg, 0o644, 0, 0, "", "root:x:0:0::/root:/bin/sh\n"},
	}
	for name, want := range checks {
		if got[name] != want {
			t.Errorf("%s: %+v, want %+v", name, got[name], want)
		}
	}

	// A changed binary changes the hash.
	if err := os.WriteFile(src, []byte("binary v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if h, _ := build().hash("FROM scratch"); h == h1 {
		t.Fatal("a changed file hashes the same")
	}
}

// A dynamically linked program brings its interpreter and libraries; a
// static one comes alone. Examples: the test binary and the host's ls,
// whichever kind each is.
func TestProgramLibraries(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[bool]bool{}
	for _, bin := range []string{self, "/bin/ls"} {
		interp, err := elfInterpreter(bin)
		if err != nil {
			t.Logf("%s: %v", bin, err)
			continue
		}
		kinds[interp != ""] = true
		r := newRootfs()
		if err := r.program(context.Background(), "/usr/bin/x", bin); err != nil {
			t.Fatal(err)
		}
		if !r.paths["/usr/bin/x"] {
			t.Fatalf("%s: the program is missing", bin)
		}
		if interp == "" {
			if len(r.entries) != 3 { // /usr, /usr/bin, /usr/bin/x
				t.Fatalf("the static %s brought %d entries", bin, len(r.entries))
			}
			if err := requireStatic(bin); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !r.paths[interp] {
			t.Fatalf("%s: interpreter %s missing", bin, interp)
		}
		libc := false
		for p := range r.paths {
			libc = libc || strings.Contains(p, "/libc.so")
		}
		if !libc {
			t.Fatalf("%s: no libc among %v", bin, r.paths)
		}
		if err := requireStatic(bin); err == nil {
			t.Fatalf("requireStatic accepted the dynamically linked %s", bin)
		}
	}
	if len(kinds) == 0 {
		t.Skip("no ELF executable to look at")
	}
}
