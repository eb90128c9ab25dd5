package fsbackend

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
)

// A persisted directory index is the sorted entry names of one large
// directory, so that the first listing after a start reads a page of it
// instead of the whole directory. It lives outside the directory (in
// indexDir, keyed by the directory's path), so writing it does not change
// the stamp it records. File layout (little-endian):
//
//	header: magic[8] n:u64 metaOff:u64 metaLen:u32 metaCRC:u32
//	        dev:u64 ino:u64 mtime:i64 ctime:i64 size:i64 headerCRC:u32
//	chunks: per chunk of chunkSize entries: (uvarint len, name, fields)...
//	        where fields is 0, or 1 and an object's listing fields
//	        (listfields.go)
//	meta:   uvarint len, dir path; per chunk: uvarint off, uvarint len,
//	        crc:u32, uvarint len, first name
//
// Every part is checked by a CRC-32C before use (a torn or corrupt file is
// refused, never misread) and a chunk's names must decode and be in order.
// An index of another format version (dgpidx01 had no fields) is refused
// like a damaged one: the directory is read whole and indexed anew.
const (
	indexDir    = ".index"
	indexMagic  = "dgpidx02" // the format version is part of the magic
	indexHdrLen = 8 + 8 + 8 + 4 + 4 + 5*8 + 4
)

var (
	crcTable        = crc32.MakeTable(crc32.Castagnoli)
	errIndexCorrupt = errors.New("directory index corrupt")
)

// indexFile is the index file of directory dir (relative to the backend
// root), relative to indexDir: one directory per bucket, so a deleted
// bucket's indexes go with it.
func indexFile(dir string) string {
	bucket, _, _ := cutPath(dir)
	sum := sha256.Sum256([]byte(dir))
	return path.Join(bucket, hex.EncodeToString(sum[:16])+".idx")
}

func cutPath(p string) (first, rest string, ok bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}

// dirIndex is an open index file.
type dirIndex struct {
	f      *os.File // closed by the GC when the last list using it goes
	n      int
	stamp  dirStamp
	firsts []dirEnt
	offs   []int64
	lens   []int
	crcs   []uint32
}

func putStamp(b []byte, st dirStamp) {
	binary.LittleEndian.PutUint64(b[0:], st.dev)
	binary.LittleEndian.PutUint64(b[8:], st.ino)
	binary.LittleEndian.PutUint64(b[16:], uint64(st.mtime))
	binary.LittleEndian.PutUint64(b[24:], uint64(st.ctime))
	binary.LittleEndian.PutUint64(b[32:], uint64(st.size))
}

func getStamp(b []byte) dirStamp {
	return dirStamp{
		dev: binary.LittleEndian.Uint64(b[0:]), ino: binary.LittleEndian.Uint64(b[8:]),
		mtime: int64(binary.LittleEndian.Uint64(b[16:])), ctime: int64(binary.LittleEndian.Uint64(b[24:])),
		size: int64(binary.LittleEndian.Uint64(b[32:])),
	}
}

// openIndex opens the index of dir and checks its header and meta; it
// returns errIndexCorrupt (wrapped) for anything but a well-formed index
// of dir.
func openIndex(ixRoot *os.Root, dir string) (*dirIndex, error) {
	f, err := ixRoot.Open(indexFile(dir))
	if err != nil {
		return nil, err
	}
	ix, err := readIndexMeta(f, dir)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return ix, nil
}

func readIndexMeta(f *os.File, dir string) (*dirIndex, error) {
	var h [indexHdrLen]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errIndexCorrupt, err)
	}
	if string(h[:8]) != indexMagic || crc32.Checksum(h[:indexHdrLen-4], crcTable) != binary.LittleEndian.Uint32(h[indexHdrLen-4:]) {
		return nil, fmt.Errorf("%w: header", errIndexCorrupt)
	}
	n := binary.LittleEndian.Uint64(h[8:])
	metaOff := binary.LittleEndian.Uint64(h[16:])
	metaLen := binary.LittleEndian.Uint32(h[24:])
	if n > 1<<40 || metaOff > 1<<50 {
		return nil, fmt.Errorf("%w: header", errIndexCorrupt)
	}
	meta := make([]byte, metaLen)
	if _, err := f.ReadAt(meta, int64(metaOff)); err != nil || crc32.Checksum(meta, crcTable) != binary.LittleEndian.Uint32(h[28:]) {
		return nil, fmt.Errorf("%w: meta", errIndexCorrupt)
	}
	ix := &dirIndex{f: f, n: int(n), stamp: getStamp(h[32:])}
	r := &byteReader{b: meta}
	if string(r.bytes()) != dir {
		return nil, fmt.Errorf("%w: another directory's", errIndexCorrupt)
	}
	chunks := (ix.n + chunkSize - 1) / chunkSize
	var prev *dirEnt
	for range chunks {
		off, ln := r.uvarint(), r.uvarint()
		crc := r.u32()
		name := string(r.bytes())
		if r.err || off+ln > metaOff {
			return nil, fmt.Errorf("%w: chunk table", errIndexCorrupt)
		}
		e, ok := entOf(name)
		if !ok || (prev != nil && cmpEnt(prev, &e) >= 0) {
			return nil, fmt.Errorf("%w: chunk table", errIndexCorrupt)
		}
		ix.firsts = append(ix.firsts, e)
		prev = &ix.firsts[len(ix.firsts)-1]
		ix.offs, ix.lens, ix.crcs = append(ix.offs, int64(off)), append(ix.lens, int(ln)), append(ix.crcs, crc)
	}
	if r.err || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: meta", errIndexCorrupt)
	}
	return ix, nil
}

// entOf decodes one entry name (false for names that are not pieces).
func entOf(name string) (dirEnt, bool) {
	p, kind, ok := parseName(name)
	if kind == kindDir {
		p += "/"
	}
	return dirEnt{s: p, name: name, kind: kind}, ok
}

// chunk reads and checks chunk k.
func (ix *dirIndex) chunk(k int) ([]dirEnt, error) {
	buf := make([]byte, ix.lens[k])
	if _, err := ix.f.ReadAt(buf, ix.offs[k]); err != nil {
		return nil, fmt.Errorf("%w: read chunk: %v", errIndexCorrupt, err)
	}
	if crc32.Checksum(buf, crcTable) != ix.crcs[k] {
		return nil, fmt.Errorf("%w: chunk %d checksum", errIndexCorrupt, k)
	}
	count := min(chunkSize, ix.n-k*chunkSize)
	ents := make([]dirEnt, 0, count)
	var lfs []listFields // the chunk's fields, one allocation
	r := &byteReader{b: buf}
	for range count {
		e, ok := entOf(string(r.bytes()))
		if r.err || !ok || (len(ents) > 0 && cmpEnt(&ents[len(ents)-1], &e) >= 0) {
			return nil, fmt.Errorf("%w: chunk %d", errIndexCorrupt, k)
		}
		var lf listFields
		has, ok := readFields(r, &e, &lf)
		if !ok {
			return nil, fmt.Errorf("%w: chunk %d", errIndexCorrupt, k)
		}
		if has {
			if lfs == nil {
				lfs = make([]listFields, 0, count)
			}
			lfs = append(lfs, lf)
			e.lf = &lfs[len(lfs)-1]
		}
		ents = append(ents, e)
	}
	if len(r.b) != 0 || len(ents) == 0 || !sameEnt(&ents[0], &ix.firsts[k]) {
		return nil, fmt.Errorf("%w: chunk %d", errIndexCorrupt, k)
	}
	return ents, nil
}

// sameEnt reports whether a and b are the same entry, fields aside.
func sameEnt(a, b *dirEnt) bool {
	return a.s == b.s && a.name == b.name && a.kind == b.kind
}

// writeIndex writes the index of dir (list, valid for stamp st) to a
// temporary file in ixRoot and renames it into place. It is not fsynced:
// a crash may leave a torn file, which the checksums refuse.
func writeIndex(ixRoot *os.Root, dir string, st dirStamp, l *entList) (err error) {
	final := indexFile(dir)
	if err := ixRoot.MkdirAll(path.Dir(final), dirPerm); err != nil {
		return err
	}
	tmp := final + "." + randSuffix() + ".tmp"
	f, err := ixRoot.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if err != nil {
			_ = ixRoot.Remove(tmp)
		}
	}()
	if _, err := f.Seek(indexHdrLen, io.SeekStart); err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	off := int64(indexHdrLen)
	meta := binary.AppendUvarint(nil, uint64(len(dir)))
	meta = append(meta, dir...)
	var blob []byte
	cur := newCursor(l)
	n := l.Len()
	for lo := 0; lo < n; lo += chunkSize {
		blob = blob[:0]
		var first string
		for i := lo; i < min(lo+chunkSize, n); i++ {
			e, err := cur.at(i)
			if err != nil {
				return err
			}
			if i == lo {
				first = e.name
			}
			blob = binary.AppendUvarint(blob, uint64(len(e.name)))
			blob = append(blob, e.name...)
			if blob, err = appendFields(blob, &e); err != nil {
				return err
			}
		}
		if _, err := w.Write(blob); err != nil {
			return err
		}
		meta = binary.AppendUvarint(meta, uint64(off))
		meta = binary.AppendUvarint(meta, uint64(len(blob)))
		meta = binary.LittleEndian.AppendUint32(meta, crc32.Checksum(blob, crcTable))
		meta = binary.AppendUvarint(meta, uint64(len(first)))
		meta = append(meta, first...)
		off += int64(len(blob))
	}
	if _, err := w.Write(meta); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	h := make([]byte, indexHdrLen)
	copy(h, indexMagic)
	binary.LittleEndian.PutUint64(h[8:], uint64(n))
	binary.LittleEndian.PutUint64(h[16:], uint64(off))
	binary.LittleEndian.PutUint32(h[24:], uint32(len(meta)))
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(meta, crcTable))
	putStamp(h[32:], st)
	binary.LittleEndian.PutUint32(h[indexHdrLen-4:], crc32.Checksum(h[:indexHdrLen-4], crcTable))
	if _, err := f.WriteAt(h, 0); err != nil {
		return err
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return cerr
	}
	return ixRoot.Rename(tmp, final)
}

// byteReader decodes the index's varints and strings; err sticks.
type byteReader struct {
	b   []byte
	err bool
}

func (r *byteReader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *byteReader) u32() uint32 {
	if len(r.b) < 4 {
		r.err, r.b = true, nil
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *byteReader) bytes() []byte {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
