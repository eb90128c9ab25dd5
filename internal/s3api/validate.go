package s3api

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// Limits of the S3 API, as S3 has them.
const (
	// MaxKeyLength is the longest object key, in bytes.
	MaxKeyLength = 1024
	// MaxPutSize is the largest single PutObject or UploadPart body (5 GiB).
	MaxPutSize int64 = 5 << 30
	// MaxPartNumber is the highest multipart part number.
	MaxPartNumber = 10000
	// MaxListKeys is the default and highest max-keys (and max-uploads, max-parts).
	MaxListKeys = 1000
	// MaxDeleteObjects is the most keys one DeleteObjects request may name.
	MaxDeleteObjects = 1000
	// MaxXMLBodySize bounds the XML request bodies (DeleteObjects,
	// CompleteMultipartUpload, CreateBucketConfiguration).
	MaxXMLBodySize = 2 << 20
)

// validBucketName reports whether name follows the S3 bucket naming rules:
// 3-63 characters of lower-case letters, digits, '.' and '-', starting and
// ending with a letter or digit, no "..", not an IPv4 address, none of the
// prefixes and suffixes S3 reserves.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
			if c == '.' && (name[i-1] == '.' || name[i-1] == '-' || name[i+1] == '-') {
				return false
			}
		default:
			return false
		}
	}
	// Only digits and dots can parse as an address (the loop above
	// refused ':'); checking first spares ParseAddr's error allocation.
	if strings.Trim(name, "0123456789.") == "" {
		if _, err := netip.ParseAddr(name); err == nil {
			return false
		}
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", "--x-s3", ".mrap"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// checkBucket returns InvalidBucketName unless name is valid.
func checkBucket(name string) error {
	if !validBucketName(name) {
		return s3err.ErrInvalidBucketName.WithResource(name)
	}
	return nil
}

// checkKey validates an object key: non-empty, at most MaxKeyLength bytes,
// valid UTF-8 without NUL, no leading '/', and no "." or ".." path segment
// (a key must not escape or alias its bucket on a file system backend).
func checkKey(key string) error {
	if len(key) > MaxKeyLength {
		return s3err.ErrKeyTooLong
	}
	if key == "" {
		return s3err.ErrInvalidObjectName.WithMessage("The object key must not be empty.")
	}
	if !utf8.ValidString(key) {
		return s3err.ErrInvalidObjectName.WithMessage("Object key is not valid UTF-8.")
	}
	if strings.IndexByte(key, 0) >= 0 {
		return s3err.ErrInvalidObjectName.WithMessage("Object key must not contain NUL.")
	}
	if key[0] == '/' {
		return s3err.ErrInvalidObjectName.WithMessage("Object key must not start with '/'.")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == ".." || seg == "." {
			return s3err.ErrInvalidObjectName.WithMessage("Object key must not contain a '.' or '..' path segment.")
		}
	}
	return nil
}

// checkPrefix validates a listing prefix or marker: it may be empty or end
// in '/', but must be valid UTF-8 without NUL and not too long.
func checkPrefix(name, value string) error {
	if len(value) > MaxKeyLength {
		return s3err.ErrKeyTooLong.WithMessage("The %s is too long.", name)
	}
	if !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
		return s3err.ErrInvalidArgument.WithMessage("The %s is not valid UTF-8 or contains NUL.", name)
	}
	return nil
}
