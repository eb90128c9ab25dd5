package sigv4

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// The x-amz-content-sha256 values other than a hex SHA-256 of the body.
const (
	// UnsignedPayload: the body is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingSignedPayload: aws-chunked body, every chunk signed.
	StreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingSignedPayloadTrailer: signed chunks and signed trailers.
	StreamingSignedPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedPayloadTrailer: unsigned chunks and a trailing checksum.
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	streamingECDSAPayload        = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	streamingECDSAPayloadTrailer = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
)

// Request headers read by this file (canonical form).
const (
	headerContentSHA256        = "X-Amz-Content-Sha256"
	headerDecodedContentLength = "X-Amz-Decoded-Content-Length"
	headerTrailer              = "X-Amz-Trailer"
	headerContentMD5           = "Content-Md5"
	awsChunkedEncoding         = "aws-chunked"
)

// payloadMode is how the request body is protected.
type payloadMode int

const (
	payloadUnsigned                 payloadMode = iota // UNSIGNED-PAYLOAD
	payloadSigned                                      // hex SHA-256 of the body
	payloadStreamingSigned                             // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	payloadStreamingSignedTrailer                      // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	payloadStreamingUnsignedTrailer                    // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

func (m payloadMode) streaming() bool { return m >= payloadStreamingSigned }
func (m payloadMode) trailer() bool {
	return m == payloadStreamingSignedTrailer || m == payloadStreamingUnsignedTrailer
}

// parsePayloadMode classifies an x-amz-content-sha256 value.
func parsePayloadMode(v string) (payloadMode, [sha256.Size]byte, *s3err.Error) {
	var sum [sha256.Size]byte
	switch v {
	case UnsignedPayload:
		return payloadUnsigned, sum, nil
	case StreamingSignedPayload:
		return payloadStreamingSigned, sum, nil
	case StreamingSignedPayloadTrailer:
		return payloadStreamingSignedTrailer, sum, nil
	case StreamingUnsignedPayloadTrailer:
		return payloadStreamingUnsignedTrailer, sum, nil
	case streamingECDSAPayload, streamingECDSAPayloadTrailer:
		return 0, sum, s3err.ErrNotImplemented.WithMessage("Signature Version 4A (%s) is not supported.", v)
	}
	if v == emptySHA256Hex { // every bodyless request: no decoding
		return payloadSigned, emptySHA256Sum(), nil
	}
	if len(v) == 2*sha256.Size {
		if _, err := hex.Decode(sum[:], []byte(v)); err == nil {
			return payloadSigned, sum, nil
		}
	}
	return 0, sum, s3err.ErrInvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, " +
		"STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, " +
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
}

// bodyInput is what newBody needs beyond the request.
type bodyInput struct {
	mode        payloadMode
	payloadHash [sha256.Size]byte // payloadSigned only
	checksum    checksumHeaders   // from scanAmzHeaders
	// Streaming signed modes.
	key     []byte
	amzDate string
	scope   string
	seed    string
}

// emptySHA256Sum is the SHA-256 of no bytes (emptySHA256Hex decoded).
func emptySHA256Sum() [sha256.Size]byte {
	return [sha256.Size]byte{
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	}
}

// isEmptySHA256 reports whether sum is the SHA-256 of no bytes.
func isEmptySHA256(sum [sha256.Size]byte) bool { return sum == emptySHA256Sum() }

// verified is a Result and its body, allocated together.
type verified struct {
	res  Result
	body bodyReader
}

// newBody validates the body-related headers and sets up b, the verifying
// reader; it reads nothing. It returns the decoded payload length.
func (v *Verifier) newBody(r *http.Request, in bodyInput, b *bodyReader) (int64, error) {
	checks := b.checkBuf[:0]
	// A body declared empty is checked for being empty (the length check),
	// which makes the SHA-256 of the empty body a foregone conclusion.
	if in.mode == payloadSigned && (r.ContentLength != 0 || !isEmptySHA256(in.payloadHash)) {
		// The body holds the expected sum, and lends the digest back
		// to the pool once it has verified it.
		want := b.sum[32:64:64]
		copy(want, in.payloadHash[:])
		b.pool = v.hashes
		checks = append(checks, digestCheck{h: v.hashes.payloadSHA256(), want: want, fail: s3err.ErrXAmzContentSHA256Mismatch})
	}
	if vals := r.Header[headerContentMD5]; len(vals) > 0 {
		want, err := base64.StdEncoding.DecodeString(vals[0])
		if len(vals) > 1 || err != nil || len(want) != 16 {
			return 0, s3err.ErrInvalidDigest
		}
		checks = append(checks, digestCheck{h: newMD5(), want: want, fail: s3err.ErrBadDigest})
	}
	alg, want, err := in.checksum.decode()
	if err != nil {
		return 0, err
	}
	if alg != "" && !isCompleteMultipartUpload(r) {
		checks = append(checks, digestCheck{
			h: v.hashes.newChecksum(alg), want: want,
			fail: s3err.ErrBadDigest.WithMessage("The %s you specified did not match the calculated checksum.", strings.ToUpper(string(alg))),
		})
	}
	trailerAlg, err := trailerHeader(r, in.mode)
	if err != nil {
		return 0, err
	}

	var src io.Reader = r.Body
	if r.Body == nil {
		src = http.NoBody
	}
	length := r.ContentLength
	if in.mode.streaming() {
		length = -1
		if d := headerGet(r.Header, headerDecodedContentLength); d != "" {
			n, err := strconv.ParseInt(d, 10, 64)
			if err != nil || n < 0 {
				return 0, s3err.ErrInvalidArgument.WithMessage("x-amz-decoded-content-length must be a non-negative integer.")
			}
			length = n
		}
		signed := in.mode == payloadStreamingSigned || in.mode == payloadStreamingSignedTrailer
		src = newChunkedReader(src, chunkedConfig{
			signed:     signed,
			trailer:    in.mode.trailer(),
			trailerAlg: trailerAlg,
			hashes:     v.hashes,
			key:        in.key,
			amzDate:    in.amzDate,
			scope:      in.scope,
			seed:       in.seed,
		})
	}
	if length < 0 {
		length = -1
	}
	b.src, b.closer, b.declared, b.checks = src, r.Body, length, checks
	return length, nil
}

// decode checks the x-amz-checksum-<alg> header found, if any, and decodes its value.
func (c checksumHeaders) decode() (checksumAlgorithm, []byte, error) {
	if c.several {
		return "", nil, s3err.ErrInvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	if c.alg == "" {
		return "", nil, nil
	}
	want, ok := decodeChecksum(c.alg, c.value)
	if !ok {
		return "", nil, s3err.ErrInvalidRequest.WithMessage("Value for %s header is invalid.", c.alg.headerName())
	}
	return c.alg, want, nil
}

// trailerHeader validates x-amz-trailer against the payload mode.
func trailerHeader(r *http.Request, mode payloadMode) (checksumAlgorithm, error) {
	vals := r.Header[headerTrailer]
	if len(vals) == 0 {
		return "", nil
	}
	if !mode.trailer() {
		return "", s3err.ErrInvalidRequest.WithMessage("x-amz-trailer requires x-amz-content-sha256 %s or %s.", StreamingUnsignedPayloadTrailer, StreamingSignedPayloadTrailer)
	}
	alg, ok := parseChecksumName(strings.TrimSpace(vals[0]))
	if len(vals) > 1 || !ok {
		return "", s3err.ErrInvalidRequest.WithMessage("The value specified in the x-amz-trailer header is not supported.")
	}
	return alg, nil
}

// isCompleteMultipartUpload reports a CompleteMultipartUpload request,
// whose x-amz-checksum-* header is the checksum of the whole object, not of
// the request body.
func isCompleteMultipartUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// stripAWSChunked removes the aws-chunked coding from a Content-Encoding value.
func stripAWSChunked(ce string) string {
	if !strings.Contains(strings.ToLower(ce), awsChunkedEncoding) {
		return ce
	}
	var kept []string
	for part := range strings.SplitSeq(ce, ",") {
		p := strings.TrimSpace(part)
		if p == "" || strings.EqualFold(p, awsChunkedEncoding) {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ",")
}
