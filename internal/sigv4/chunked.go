package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// Limits of the aws-chunked decoder.
const (
	// MaxChunkSize is the largest aws-chunked chunk accepted.
	MaxChunkSize = 16 << 20
	// minSignedChunkSize is S3's minimum for every signed chunk but the last.
	minSignedChunkSize = 8 << 10
	// maxChunkLine bounds a chunk header or trailer line, CRLF included.
	maxChunkLine = 512
	// maxTrailerLines bounds the number of trailer lines.
	maxTrailerLines = 8
	// chunkBufSize is the decoder's fixed read buffer.
	chunkBufSize = 16 << 10
)

const (
	trailerSignatureName = "x-amz-trailer-signature"
	chunkSignaturePrefix = "chunk-signature="
)

// chunkedConfig describes one aws-chunked body.
type chunkedConfig struct {
	signed  bool // chunk signatures present (STREAMING-AWS4-HMAC-SHA256-PAYLOAD*)
	trailer bool // trailers may follow the final chunk (*-TRAILER)
	// trailerAlg is the checksum declared in x-amz-trailer, "" for none.
	trailerAlg checksumAlgorithm
	hashes     *hashes

	// Signed mode only.
	key     []byte // signing key
	amzDate string
	scope   string
	seed    string // the request signature, hex
}

type chunkState int

const (
	stateHeader  chunkState = iota // expecting a chunk header line
	stateData                      // inside chunk data
	stateDataEnd                   // expecting the CRLF after chunk data
	stateDone                      // final chunk and trailers consumed
)

// chunkedReader decodes an aws-chunked body, verifying chunk signatures,
// the trailer signature and the trailing checksum as it goes. Each check
// happens when its frame has been read; a failure ends the stream with an
// *s3err.Error, and io.EOF is only returned once everything verified. It
// reads through one fixed buffer and never allocates per chunk.
type chunkedReader struct {
	cfg       chunkedConfig
	br        *bufio.Reader
	state     chunkState
	remaining int64 // bytes left in the current chunk
	prevSize  int64 // size of the previous data chunk
	err       error

	// Signed mode.
	dataHash  hash.Hash // sha256 of the current chunk
	mac       hash.Hash // hmac-sha256 under the signing key
	prefix    []byte    // "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n"
	prevSig   [signatureHexSize]byte
	chunkSig  [signatureHexSize]byte
	hexBuf    [signatureHexSize]byte
	sumBuf    [sha256.Size]byte
	emptyLine []byte // "\n<sha256 of empty>\n"

	// Trailing checksum.
	trailerSum hash.Hash
}

var _ io.Reader = (*chunkedReader)(nil)

func newChunkedReader(body io.Reader, cfg chunkedConfig) *chunkedReader {
	c := &chunkedReader{cfg: cfg, br: bufio.NewReaderSize(body, chunkBufSize)}
	if cfg.signed {
		c.dataHash = sha256.New()
		c.mac = hmac.New(sha256.New, cfg.key)
		c.prefix = []byte("AWS4-HMAC-SHA256-PAYLOAD\n" + cfg.amzDate + "\n" + cfg.scope + "\n")
		c.emptyLine = []byte("\n" + emptySHA256Hex + "\n")
		copy(c.prevSig[:], cfg.seed)
	}
	if cfg.trailerAlg != "" {
		c.trailerSum = cfg.hashes.newChecksum(cfg.trailerAlg)
	}
	return c
}

// Read implements io.Reader, returning decoded payload bytes.
func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		switch c.state {
		case stateDone:
			return 0, io.EOF
		case stateHeader:
			c.err = c.readHeader()
		case stateDataEnd:
			c.err = c.readDataEnd()
		case stateData:
			if len(p) == 0 {
				return 0, nil
			}
			return c.readData(p)
		}
	}
}

func (c *chunkedReader) readData(p []byte) (int, error) {
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	if n > 0 {
		c.remaining -= int64(n)
		if c.dataHash != nil {
			c.dataHash.Write(p[:n])
		}
		if c.trailerSum != nil {
			c.trailerSum.Write(p[:n])
		}
		if c.remaining == 0 {
			c.state = stateDataEnd
		}
	}
	if err != nil {
		if err == io.EOF {
			err = s3err.ErrIncompleteBody.WithMessage("The aws-chunked body ended inside a chunk.")
		}
		c.err = readError(err)
		return n, c.err
	}
	return n, nil
}

// readLine reads one CRLF-terminated line and returns it without the CRLF.
// The slice is valid until the next read.
func (c *chunkedReader) readLine(what string) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > maxChunkLine:
		return nil, framingError(what + " line is too long")
	case err == io.EOF:
		return nil, s3err.ErrIncompleteBody.WithMessage("The aws-chunked body ended before its final chunk.")
	case err != nil:
		return nil, readError(err)
	case len(line) < 2 || line[len(line)-2] != '\r':
		return nil, framingError(what + " line is not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

func (c *chunkedReader) readHeader() error {
	line, err := c.readLine("chunk header")
	if err != nil {
		return err
	}
	sizeField, ext, hasExt := bytes.Cut(line, []byte{';'})
	size, err := parseChunkSize(sizeField)
	if err != nil {
		return err
	}
	if c.cfg.signed {
		sig, ok := bytes.CutPrefix(ext, []byte(chunkSignaturePrefix))
		if !hasExt || !ok || !isLowerHex(sig, signatureHexSize) {
			return framingError("chunk header must be <hex size>;chunk-signature=<64 hex digits>")
		}
		copy(c.chunkSig[:], sig)
		if size > 0 && c.prevSize > 0 && c.prevSize < minSignedChunkSize {
			return s3err.ErrInvalidChunkSizeError
		}
	} else if hasExt {
		return framingError("unsigned chunk header must be a bare hex size")
	}
	if size == 0 {
		return c.readFinal()
	}
	c.prevSize = size
	c.remaining = size
	if c.dataHash != nil {
		c.dataHash.Reset()
	}
	c.state = stateData
	return nil
}

// parseChunkSize parses the hex chunk size, bounded by MaxChunkSize.
func parseChunkSize(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 16 {
		return 0, framingError("chunk size must be 1 to 16 hex digits")
	}
	var n int64
	for _, ch := range b {
		var d byte
		switch {
		case '0' <= ch && ch <= '9':
			d = ch - '0'
		case 'a' <= ch && ch <= 'f':
			d = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			d = ch - 'A' + 10
		default:
			return 0, framingError("chunk size must be 1 to 16 hex digits")
		}
		n = n<<4 | int64(d)
		if n > MaxChunkSize {
			return 0, s3err.ErrInvalidRequest.WithMessage("An aws-chunked chunk is larger than the maximum of %d bytes.", MaxChunkSize)
		}
	}
	return n, nil
}

func (c *chunkedReader) readDataEnd() error {
	line, err := c.readLine("chunk data")
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return framingError("chunk data is longer than its declared size")
	}
	if c.cfg.signed {
		if err := c.verifyChunk(); err != nil {
			return err
		}
	}
	c.state = stateHeader
	return nil
}

// verifyChunk checks the signature of the chunk whose data went through
// dataHash and chains it.
func (c *chunkedReader) verifyChunk() error {
	hex.Encode(c.hexBuf[:], c.dataHash.Sum(c.sumBuf[:0]))
	c.mac.Reset()
	c.mac.Write(c.prefix)
	c.mac.Write(c.prevSig[:])
	c.mac.Write(c.emptyLine)
	c.mac.Write(c.hexBuf[:])
	hex.Encode(c.hexBuf[:], c.mac.Sum(c.sumBuf[:0]))
	if !hmac.Equal(c.hexBuf[:], c.chunkSig[:]) {
		return s3err.ErrSignatureDoesNotMatch.WithMessage("The chunk signature we calculated does not match the signature you provided.")
	}
	c.prevSig = c.chunkSig
	return nil
}

// readFinal handles the zero-size chunk, the trailers and the end of the body.
func (c *chunkedReader) readFinal() error {
	if c.cfg.signed {
		c.dataHash.Reset()
		if err := c.verifyChunk(); err != nil {
			return err
		}
	}
	if c.cfg.trailer {
		if err := c.readTrailers(); err != nil {
			return err
		}
	} else {
		line, err := c.readLine("final")
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return framingError("the final chunk must be followed by an empty line")
		}
	}
	switch _, err := c.br.ReadByte(); {
	case err == nil:
		return framingError("data follows the final chunk")
	case err != io.EOF:
		return readError(err)
	}
	c.state = stateDone
	return nil
}

// readTrailers reads the trailer lines up to the empty line, verifies the
// trailer signature (signed mode) and the trailing checksum.
func (c *chunkedReader) readTrailers() error {
	var (
		canon    hash.Hash
		gotSum   bool
		sumValue [64]byte
		sumLen   int
		gotSig   bool
		trailSig [signatureHexSize]byte
	)
	if c.cfg.signed {
		canon = sha256.New()
	}
	for i := 0; ; i++ {
		line, err := c.readLine("trailer")
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if i == maxTrailerLines {
			return framingError("too many trailer lines")
		}
		if gotSig {
			return framingError("x-amz-trailer-signature must be the last trailer")
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return framingError("trailer line must be name:value")
		}
		name = bytes.TrimSpace(name)
		value = bytes.Trim(value, " \t")
		switch {
		case c.cfg.signed && strings.EqualFold(string(name), trailerSignatureName):
			if !isLowerHex(value, signatureHexSize) {
				return framingError("x-amz-trailer-signature must be 64 hex digits")
			}
			copy(trailSig[:], value)
			gotSig = true
		case c.cfg.trailerAlg != "" && strings.EqualFold(string(name), c.cfg.trailerAlg.headerName()):
			if gotSum || len(value) > len(sumValue) {
				return s3err.ErrInvalidRequest.WithMessage("Value for %s trailing header is invalid.", c.cfg.trailerAlg.headerName())
			}
			sumLen = copy(sumValue[:], value)
			gotSum = true
			if canon != nil {
				canon.Write([]byte(c.cfg.trailerAlg.headerName()))
				canon.Write([]byte{':'})
				canon.Write(value)
				canon.Write([]byte{'\n'})
			}
		default:
			return s3err.ErrInvalidRequest.WithMessage("The trailer %q was not declared in x-amz-trailer.", truncate(string(name)))
		}
	}
	if c.cfg.signed {
		if !gotSig {
			return s3err.ErrSignatureDoesNotMatch.WithMessage("The trailer signature (x-amz-trailer-signature) is missing.")
		}
		sts := make([]byte, 0, 256)
		sts = append(sts, "AWS4-HMAC-SHA256-TRAILER\n"...)
		sts = append(sts, c.cfg.amzDate...)
		sts = append(sts, '\n')
		sts = append(sts, c.cfg.scope...)
		sts = append(sts, '\n')
		sts = append(sts, c.prevSig[:]...)
		sts = append(sts, '\n')
		sts = hex.AppendEncode(sts, canon.Sum(c.sumBuf[:0]))
		want := signHex(c.cfg.key, sts)
		if !hmac.Equal(want[:], trailSig[:]) {
			return s3err.ErrSignatureDoesNotMatch.WithMessage("The trailer signature we calculated does not match the signature you provided.")
		}
	}
	if c.cfg.trailerAlg == "" {
		return nil
	}
	name := c.cfg.trailerAlg.headerName()
	if !gotSum {
		return s3err.ErrInvalidRequest.WithMessage("The trailer %s declared in x-amz-trailer is missing.", name)
	}
	want, ok := decodeChecksum(c.cfg.trailerAlg, string(sumValue[:sumLen]))
	if !ok {
		return s3err.ErrInvalidRequest.WithMessage("Value for %s trailing header is invalid.", name)
	}
	if !hmac.Equal(c.trailerSum.Sum(c.sumBuf[:0]), want) {
		return s3err.ErrBadDigest.WithMessage("The %s you specified did not match the calculated checksum.", strings.ToUpper(string(c.cfg.trailerAlg)))
	}
	return nil
}

// isLowerHex reports whether b is exactly n lower-case hex digits.
func isLowerHex(b []byte, n int) bool {
	if len(b) != n {
		return false
	}
	for _, ch := range b {
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f') {
			return false
		}
	}
	return true
}

func framingError(detail string) *s3err.Error {
	return s3err.ErrInvalidRequest.WithMessage("Malformed aws-chunked body: %s.", detail)
}
