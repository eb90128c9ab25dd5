package containers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"time"
)

// rootfs is the file tree of an image, written as the tar archive that the
// image's Dockerfile ADDs at /. Entries keep the order they were added in;
// every parent directory must be added before its children.
type rootfs struct {
	entries []rootfsEntry
	paths   map[string]bool
}

// rootfsEntry is one file, directory or symbolic link of a rootfs. A file's
// content is src (a host file, symbolic links followed) or data.
type rootfsEntry struct {
	name     string // absolute path in the image
	typ      byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode     int64
	uid, gid int
	src      string
	data     []byte
	link     string
}

// rootfsMTime is the modification time of every entry, so that the same
// inputs give the same archive.
var rootfsMTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func newRootfs() *rootfs { return &rootfs{paths: map[string]bool{}} }

func (r *rootfs) add(e rootfsEntry) {
	e.name = path.Clean("/" + e.name)
	if r.paths[e.name] {
		return
	}
	r.paths[e.name] = true
	r.entries = append(r.entries, e)
}

// dir adds a directory and its missing parents (root owned, 0755).
func (r *rootfs) dir(name string, mode int64, uid, gid int) {
	name = path.Clean("/" + name)
	if name == "/" {
		return
	}
	if parent := path.Dir(name); !r.paths[parent] {
		r.dir(parent, 0o755, 0, 0)
	}
	r.add(rootfsEntry{name: name, typ: tar.TypeDir, mode: mode, uid: uid, gid: gid})
}

// file adds the host file src at name (root owned).
func (r *rootfs) file(name, src string, mode int64) {
	r.dir(path.Dir(path.Clean("/"+name)), 0o755, 0, 0)
	r.add(rootfsEntry{name: name, typ: tar.TypeReg, mode: mode, src: src})
}

// text adds a file with the given content (root owned).
func (r *rootfs) text(name, content string, mode int64) {
	r.dir(path.Dir(path.Clean("/"+name)), 0o755, 0, 0)
	r.add(rootfsEntry{name: name, typ: tar.TypeReg, mode: mode, data: []byte(content)})
}

// symlink adds name pointing at target, unless name exists already.
func (r *rootfs) symlink(name, target string) {
	r.dir(path.Dir(path.Clean("/"+name)), 0o755, 0, 0)
	r.add(rootfsEntry{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target})
}

// base adds what every test image has: /tmp, /root, /etc/passwd and
// /etc/group (root and nonroot 65532, as distroless has), name resolution
// from /etc/hosts first, and the host's CA bundle when it has one.
func (r *rootfs) base() {
	r.dir("/tmp", 0o1777, 0, 0)
	r.dir("/root", 0o700, 0, 0)
	r.dir("/home/nonroot", 0o700, 65532, 65532)
	r.text("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"+
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n", 0o644)
	r.text("/etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n", 0o644)
	r.text("/etc/nsswitch.conf", "hosts: files dns\n", 0o644)
	const caBundle = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(caBundle); err == nil {
		r.file(caBundle, caBundle, 0o644)
	}
}

// busybox adds the busybox binary at /bin/busybox and a link in /bin for
// each of its applets (sh, wget, ...), skipping names already present.
func (r *rootfs) busybox(ctx context.Context, bin string) error {
	if err := requireStatic(bin); err != nil {
		return fmt.Errorf("busybox: %w", err)
	}
	// argv[0] "busybox" whatever the file's name: busybox picks the applet
	// by it.
	cmd := exec.CommandContext(ctx, bin, "--list")
	cmd.Args[0] = "busybox"
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	r.file("/bin/busybox", bin, 0o755)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		applet := strings.TrimSpace(sc.Text())
		if applet == "" || strings.ContainsAny(applet, "/[") || applet == "busybox" {
			continue
		}
		r.symlink("/bin/"+applet, "busybox")
	}
	return sc.Err()
}

// program adds the executable bin at name and, when it is dynamically
// linked, its ELF interpreter and the libraries ldd reports, at the paths
// they have on the host (their content, symbolic links followed).
func (r *rootfs) program(ctx context.Context, name, bin string) error {
	interp, err := elfInterpreter(bin)
	if err != nil {
		return err
	}
	r.file(name, bin, 0o755)
	if interp == "" {
		return nil
	}
	r.file(interp, interp, 0o755)
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %w", bin, err)
	}
	libs, err := lddPaths(out)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	for _, lib := range libs {
		r.file(lib, lib, 0o755)
	}
	return nil
}

// lddPaths returns the absolute paths in ldd's output ("libc.so.6 =>
// /lib/.../libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)");
// the vDSO has none. A library ldd did not find is an error.
func lddPaths(out []byte) ([]string, error) {
	var paths []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if name, after, ok := strings.Cut(line, "=>"); ok {
			line = strings.TrimSpace(after)
			if strings.HasPrefix(line, "not found") {
				return nil, fmt.Errorf("ldd: %s not found", strings.TrimSpace(name))
			}
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			paths = append(paths, f[0])
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// elfInterpreter returns the ELF interpreter of bin ("" for a static binary).
func elfInterpreter(bin string) (string, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return "", fmt.Errorf("read the interpreter of %s: %w", bin, err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// requireStatic fails when bin is dynamically linked.
func requireStatic(bin string) error {
	interp, err := elfInterpreter(bin)
	if err != nil {
		return err
	}
	if interp != "" {
		return fmt.Errorf("%s is dynamically linked (%s); a static binary is needed", bin, interp)
	}
	return nil
}

// hash returns the SHA-256 of every entry's metadata and content, plus
// extra (the Dockerfile): equal hashes mean equal images.
func (r *rootfs) hash(extra string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "dgp-test-image/1\n%s\n", extra)
	for _, e := range r.entries {
		fmt.Fprintf(h, "%q %c %o %d %d %q\n", e.name, e.typ, e.mode, e.uid, e.gid, e.link)
		if e.typ != tar.TypeReg {
			continue
		}
		if e.src == "" {
			fmt.Fprintf(h, "%d\n", len(e.data))
			h.Write(e.data)
			continue
		}
		if err := hashFile(h, e.src); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(w io.Writer, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d\n", fi.Size())
	_, err = io.Copy(w, f)
	return err
}

// writeTar writes the rootfs as a tar archive to dst.
func (r *rootfs) writeTar(dst string) (err error) {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(out, 1<<20)
	tw := tar.NewWriter(bw)
	for _, e := range r.entries {
		if err := writeEntry(tw, e); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func writeEntry(tw *tar.Writer, e rootfsEntry) error {
	hdr := &tar.Header{
		Name: strings.TrimPrefix(e.name, "/"), Typeflag: e.typ, Mode: e.mode,
		Uid: e.uid, Gid: e.gid, ModTime: rootfsMTime, Linkname: e.link, Format: tar.FormatPAX,
	}
	switch {
	case e.typ == tar.TypeDir:
		hdr.Name += "/"
		return tw.WriteHeader(hdr)
	case e.typ == tar.TypeSymlink:
		return tw.WriteHeader(hdr)
	case e.src == "":
		hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(e.data)
		return err
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr.Size = fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("%s changed while archived", e.src)
	}
	return err
}
