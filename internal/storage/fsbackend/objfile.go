package fsbackend

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// Object and part files are: data || metadata JSON || uint32 length of the
// JSON (big endian) || trailerMagic. One rename commits data and metadata.
const (
	trailerMagic = "DGPOBJ\x00\x01"
	trailerFixed = 4 + len(trailerMagic)
	// maxMetaLen bounds the metadata JSON (S3 allows 2 KiB of user
	// metadata; headers and part sizes add some).
	maxMetaLen = 1 << 20
	tailRead   = 4096
)

// errCorrupt marks an object file whose trailer cannot be read.
var errCorrupt = errors.New("corrupt object file")

// objMeta is the metadata stored with an object or a part.
type objMeta struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"`
	Modified     time.Time         `json:"modified"`
	ContentType  string            `json:"contentType,omitempty"`
	UserMetadata map[string]string `json:"userMetadata,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	// PartSizes are the part sizes of a completed multipart upload.
	PartSizes []int64 `json:"partSizes,omitempty"`

	// VersionID is the version's id; "" or "null" is the null version
	// ("" when written while the bucket was unversioned).
	VersionID string `json:"versionId,omitempty"`
	// Seq orders the versions of a key (strictly increasing per backend);
	// 0 in files written before it existed (Modified then stands in).
	Seq uint64 `json:"seq,omitempty"`
	// DeleteMarker marks a delete marker (a version without data).
	DeleteMarker bool `json:"deleteMarker,omitempty"`
	// Lock is the version's object lock state (nil: none).
	Lock *lockMeta `json:"lock,omitempty"`
}

// lockMeta is a version's stored object lock state.
type lockMeta struct {
	Mode        string    `json:"mode,omitempty"`
	RetainUntil time.Time `json:"retainUntil,omitzero"`
	LegalHold   bool      `json:"legalHold,omitempty"`
	// HoldSet records that a legal hold was ever set (on or off).
	HoldSet bool `json:"holdSet,omitempty"`
}

// state returns the lock state as the storage interface reports it.
func (l *lockMeta) state() storage.LockState {
	if l == nil {
		return storage.LockState{}
	}
	return storage.LockState{
		Retention:    storage.Retention{Mode: l.Mode, RetainUntil: l.RetainUntil},
		LegalHold:    l.LegalHold,
		LegalHoldSet: l.HoldSet,
	}
}

// seq returns the version's order, falling back to its modification time.
func (m *objMeta) seq() uint64 {
	if m.Seq != 0 {
		return m.Seq
	}
	return uint64(max(m.Modified.UnixNano(), 1))
}

// isNull reports whether the version is the null version.
func (m *objMeta) isNull() bool {
	return m.VersionID == "" || m.VersionID == storage.NullVersion
}

// info is all that GET and HEAD report of the object.
func (m *objMeta) info() storage.ObjectInfo {
	i := m.listed()
	i.ContentType, i.UserMetadata, i.Headers = m.ContentType, m.UserMetadata, m.Headers
	i.VersionID, i.DeleteMarker, i.Lock = m.VersionID, m.DeleteMarker, m.Lock.state()
	return i
}

// listed is what a listing reports of the object: the fields of an S3
// listing's Contents (decodeListed decodes no others).
func (m *objMeta) listed() storage.ObjectInfo {
	lf := fieldsOf(m)
	return lf.info(m.Key)
}

// writeTrailer appends the metadata trailer at the file's current offset.
func writeTrailer(w io.Writer, m *objMeta) error {
	js, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode object metadata: %w", err)
	}
	var fixed [trailerFixed]byte
	binary.BigEndian.PutUint32(fixed[:4], uint32(len(js)))
	copy(fixed[4:], trailerMagic)
	if _, err := w.Write(append(js, fixed[:]...)); err != nil {
		return fmt.Errorf("write object metadata: %w", err)
	}
	return nil
}

// metaDecoder decodes the JSON of a trailer into m: decodeMeta all of
// it, decodeListed what a listing reports.
type metaDecoder func(js []byte, m *objMeta) error

// readMeta reads the trailer of an open object or part file.
func readMeta(f *os.File) (*objMeta, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, syscall.EISDIR
	}
	return readMetaAt(f, fi.Size(), nil, decodeMeta)
}

// readMetaAt reads the trailer of an object or part file of size bytes
// read through r, into buf when it is long enough (else into a new
// buffer), and decodes its JSON with dec.
func readMetaAt(r io.ReaderAt, size int64, buf []byte, dec metaDecoder) (*objMeta, error) {
	if size < int64(trailerFixed) {
		return nil, errCorrupt
	}
	n := min(size, tailRead)
	if int64(len(buf)) < n {
		buf = make([]byte, n)
	}
	tail := buf[:n]
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil {
		return nil, fmt.Errorf("read object metadata: %w", err)
	}
	return metaFromTail(r, tail, size, dec)
}

// metaFromTail decodes the metadata of an object or part file of size
// bytes from tail, its last bytes (at least trailerFixed of them), reading
// the rest of a metadata JSON longer than tail holds through r, with dec.
func metaFromTail(r io.ReaderAt, tail []byte, size int64, dec metaDecoder) (*objMeta, error) {
	if size < int64(trailerFixed) || len(tail) < trailerFixed {
		return nil, errCorrupt
	}
	fixed := tail[len(tail)-trailerFixed:]
	if string(fixed[4:]) != trailerMagic {
		return nil, errCorrupt
	}
	n := int64(binary.BigEndian.Uint32(fixed[:4]))
	if n > maxMetaLen || n+int64(trailerFixed) > size {
		return nil, errCorrupt
	}
	var js []byte
	if n+int64(trailerFixed) <= int64(len(tail)) {
		js = tail[len(tail)-trailerFixed-int(n) : len(tail)-trailerFixed]
	} else {
		js = make([]byte, n)
		if _, err := r.ReadAt(js, size-int64(trailerFixed)-n); err != nil {
			return nil, fmt.Errorf("read object metadata: %w", err)
		}
	}
	m := new(objMeta)
	if err := dec(js, m); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if m.Size != size-int64(trailerFixed)-n {
		return nil, errCorrupt
	}
	return m, nil
}

// objectBody streams a span of an open object file.
type objectBody struct {
	f    *os.File
	lr   io.LimitedReader
	bufs *sync.Pool
}

func newObjectBody(f *os.File, start, length int64, bufs *sync.Pool) (*objectBody, error) {
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek object: %w", err)
	}
	return &objectBody{f: f, lr: io.LimitedReader{R: f, N: length}, bufs: bufs}, nil
}

// Read implements io.Reader.
func (o *objectBody) Read(p []byte) (int, error) { return o.lr.Read(p) }

// Close implements io.Closer.
func (o *objectBody) Close() error { return o.f.Close() }

// WriteTo implements io.WriterTo: a writer that can read from a file
// (a TCP connection: sendfile; a file: copy_file_range) does so directly,
// others get the data through a pooled buffer.
func (o *objectBody) WriteTo(w io.Writer) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(&o.lr)
	}
	bp := o.bufs.Get().(*[]byte)
	defer o.bufs.Put(bp)
	return io.CopyBuffer(w, struct{ io.Reader }{&o.lr}, *bp)
}

func isNotDir(err error) bool {
	return errors.Is(err, syscall.ENOTDIR)
}
