package s3api

import (
	"bufio"
	"errors"
	"io"
	"mime/multipart"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

const (
	// maxPostFields bounds the names and values of the form fields before
	// the file, as S3 does (20 KB).
	maxPostFields = 20 << 10
	// maxPostPreamble bounds the raw bytes read before the file's content
	// starts (boundaries and part headers included), so that part headers
	// cannot grow without limit either.
	maxPostPreamble = 64 << 10
	// postReadBuffer is the buffer the form is read through; the file's
	// content reaches the backend in reads of up to this size.
	postReadBuffer = 64 << 10
)

// errPostPreData is S3's answer to form fields that exceed maxPostFields.
func errPostPreData() *s3err.Error {
	return s3err.ErrMaxPostPreDataLengthExceeded
}

// postField is one form field: its name lower-cased, and its value.
type postField struct {
	name, value string
}

// postForm is a POST Object form up to its file: the fields before the
// file, in order, and the file part, positioned at the file's first byte.
// Fields after the file are never read (S3 ignores them).
type postForm struct {
	fields []postField
	// file is nil when the form has no file field.
	file *multipart.Part
	// filename is the file part's filename parameter (its base name).
	filename string
}

// get returns the value of the field name (lower-case).
func (f *postForm) get(name string) (string, bool) {
	for _, fld := range f.fields {
		if fld.name == name {
			return fld.value, true
		}
	}
	return "", false
}

// readPostForm reads the fields of a multipart form until the part named
// "file" (any case). Field names are case-insensitive; a field given twice
// (except x-ignore-*) is InvalidArgument; names and values together are at
// most maxPostFields bytes (MaxPostPreDataLengthExceeded). A body that is
// not multipart/form-data is MalformedPOSTRequest.
func readPostForm(mr *multipart.Reader) (*postForm, error) {
	f := &postForm{}
	budget := maxPostFields
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, formError(err)
		}
		name := strings.ToLower(p.FormName())
		if name == "" {
			return nil, s3err.ErrMalformedPOSTRequest.WithMessage("The body of your POST request is not well-formed multipart/form-data: a part has no field name.")
		}
		if name == "file" {
			f.file, f.filename = p, p.FileName()
			return f, nil
		}
		budget -= len(name)
		if budget < 0 {
			return nil, errPostPreData()
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(budget)+1))
		if err != nil {
			return nil, formError(err)
		}
		budget -= len(v)
		if budget < 0 {
			return nil, errPostPreData()
		}
		if _, dup := f.get(name); dup && !strings.HasPrefix(name, "x-ignore-") {
			return nil, s3err.ErrInvalidArgument.WithMessage("POST form field %q is given more than once.", truncateField(name))
		}
		f.fields = append(f.fields, postField{name: name, value: string(v)})
	}
}

// formError turns a multipart reading error into an S3 error: the body
// guard's own errors as they are, anything else MalformedPOSTRequest.
func formError(err error) error {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e
	}
	return s3err.ErrMalformedPOSTRequest.WithCause(err)
}

// newPostReader reads a multipart body with the given boundary through a
// postBodyGuard (counting into count) and a postReadBuffer buffer, which
// the multipart reader uses as is instead of its own 4 KiB one. The guard's
// limit allows for the buffer's read-ahead.
func newPostReader(body io.Reader, count *int64, boundary string) (*multipart.Reader, *postBodyGuard) {
	g := &postBodyGuard{src: body, count: count, limit: maxPostPreamble + postReadBuffer}
	return multipart.NewReader(bufio.NewReaderSize(g, postReadBuffer), boundary), g
}

// postBodyGuard reads the raw request body of a POST Object: it counts
// every byte (the access log's bytes_in) and, while limit > 0, refuses to
// read more than limit bytes (MaxPostPreDataLengthExceeded). The handler
// lifts the limit once the file part is reached.
type postBodyGuard struct {
	src   io.Reader
	count *int64
	limit int64
}

// Read implements io.Reader.
func (g *postBodyGuard) Read(p []byte) (int, error) {
	if g.limit > 0 {
		if *g.count >= g.limit {
			return 0, errPostPreData()
		}
		if rest := g.limit - *g.count; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := g.src.Read(p)
	*g.count += int64(n)
	return n, err
}

// postFile yields the content of the file part, enforcing the policy's
// content-length-range: more than max bytes is EntityTooLarge as soon as
// it is seen, fewer than min is EntityTooSmall in place of io.EOF, so a
// backend given this reader stores nothing. The first error sticks.
type postFile struct {
	src      io.Reader
	min, max int64
	n        int64
	touched  bool
	err      error
}

// Read implements io.Reader.
func (f *postFile) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	f.touched = true
	n, err := f.src.Read(p)
	f.n += int64(n)
	switch {
	case f.n > f.max:
		f.err = s3err.ErrEntityTooLarge.WithMessage("Your proposed upload exceeds the maximum allowed size")
		return 0, f.err
	case err == io.EOF && f.n < f.min:
		f.err = s3err.ErrEntityTooSmall.WithMessage("Your proposed upload is smaller than the minimum allowed size")
		return n, f.err
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		f.err = formError(err)
		return n, f.err
	}
	return n, nil
}

// failure is the error Read returned, if any: it explains a backend
// failure better than the backend's own wrapping of it.
func (f *postFile) failure() error { return f.err }
