package fsbackend

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// pageStat reads the metadata of the objects of one listing page with
// system calls relative to their directory, held open across the page:
// openat, a read and close, 3 per small object (4 with the fstat a larger
// one needs). Opening each through the os.Root as statObject does costs 9
// (the *os.File's poller registration, which a regular file refuses, and
// its flag checks): with 1,000 objects a page that was most of a page's
// time (issue 17, a 1,000,000-key directory). The names come from the
// directory's own listing (one path component) and are opened with
// O_NOFOLLOW; a symlink (ELOOP) or a directory that cannot be opened falls
// back to statObject, which resolves it as os.Root does. Not safe for
// concurrent use; Close releases the directory.
type pageStat struct {
	base *os.Root
	dir  string   // of base, as path.Split gives it
	f    *os.File // the directory; nil: none held
	buf  []byte   // tailRead bytes, read into per object
	// large says the last object read did not fit in buf: the next is
	// sized with fstat first instead of being read whole.
	large bool
	// dec decodes the trailers read; nil: decodeListed (what a listing
	// reports).
	dec metaDecoder
}

// hold makes the directory of rel (relative to base) the one held, and
// returns rel's name in it; false: the directory cannot be opened.
func (p *pageStat) hold(base *os.Root, rel string) (string, bool) {
	dir, name := path.Split(rel)
	if p.f == nil || p.base != base || p.dir != dir {
		p.Close()
		d := "."
		if dir != "" {
			d = dir[:len(dir)-1]
		}
		f, err := base.Open(d)
		if err != nil {
			return name, false
		}
		p.base, p.dir, p.f = base, dir, f
	}
	return name, true
}

// absent reports whether rel (relative to base) certainly does not exist:
// one openat in its directory, held. A version listing asks it of each
// key's versions directory, which most keys do not have.
func (p *pageStat) absent(base *os.Root, rel string) bool {
	name, ok := p.hold(base, rel)
	if !ok {
		return false
	}
	fd, err := openAt(int(p.f.Fd()), name, syscall.O_DIRECTORY)
	if err == nil {
		_ = syscall.Close(fd)
	}
	return err == syscall.ENOENT
}

// stat returns the metadata of the object file rel (relative to base)
// holding key.
func (p *pageStat) stat(base *os.Root, rel, key string) (*objMeta, error) {
	m, _, err := p.statDirect(base, rel, key)
	return m, err
}

// statDirect is stat, and says whether the file was read by its own name
// in its directory (direct), not through a symlink or os.Root's fallback.
func (p *pageStat) statDirect(base *os.Root, rel, key string) (m *objMeta, direct bool, err error) {
	name, ok := p.hold(base, rel)
	if !ok {
		m, err = statObject(base, rel, key)
		return m, false, err
	}
	fd, err := openAt(int(p.f.Fd()), name, 0)
	if errors.Is(err, syscall.ELOOP) {
		m, err = statObject(base, rel, key)
		return m, false, err
	}
	if err != nil {
		return nil, false, &fs.PathError{Op: "openat", Path: rel, Err: err}
	}
	defer syscall.Close(fd)
	if m, err = p.read(fd, rel); err != nil {
		return nil, false, err
	}
	m.Key = key
	return m, true, nil
}

// read decodes the trailer of the open object file fd with p.dec (by
// default what a listing reports: size, ETag, modification time). A file smaller
// than buf is read whole from its start in one pread, which gives its size
// without an fstat: object files are never written in place (a new one is
// renamed over the old), so a short read is the whole file. Should a
// file system return a short read before the end, the trailer's checks
// (magic, and a recorded size matching the bytes read) fail and the file
// is read again the long way.
func (p *pageStat) read(fd int, rel string) (*objMeta, error) {
	if p.buf == nil {
		p.buf = make([]byte, tailRead)
	}
	dec := p.dec
	if dec == nil {
		dec = decodeListed
	}
	r := fdReader(fd)
	if !p.large {
		var n int
		err := ignoringEINTR(func() (err error) {
			n, err = syscall.Pread(fd, p.buf, 0)
			return err
		})
		switch {
		case err == syscall.EISDIR:
			return nil, syscall.EISDIR
		case err != nil:
			return nil, &fs.PathError{Op: "pread", Path: rel, Err: err}
		case n < len(p.buf):
			if m, err := metaFromTail(r, p.buf[:n], int64(n), dec); err == nil {
				return m, nil
			}
		default:
			p.large = true // the buffer is full: the file may be longer
		}
	}
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: rel, Err: err}
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return nil, syscall.EISDIR
	}
	p.large = st.Size >= int64(len(p.buf))
	return readMetaAt(r, st.Size, p.buf, dec)
}

// Close releases the directory held.
func (p *pageStat) Close() {
	if p.f != nil {
		_ = p.f.Close()
		p.f, p.base = nil, nil
	}
}

// openAt opens name in the directory dirfd for reading, not following a
// symlink, with the open flags more (O_DIRECTORY, or 0).
func openAt(dirfd int, name string, more int) (int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|more, 0)
		return err
	})
	return fd, err
}

// ignoringEINTR runs f until it fails with another error than EINTR.
func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

// fdReader reads a file descriptor at offsets (pread).
type fdReader int

func (fd fdReader) ReadAt(b []byte, off int64) (int, error) {
	done := 0
	for done < len(b) {
		n, err := syscall.Pread(int(fd), b[done:], off+int64(done))
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return done, err
		case n == 0:
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}
