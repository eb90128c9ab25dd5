package iam

import (
	"crypto/rand"
	"encoding/hex"
)

const (
	// AccessKeyIDLen is the length of generated access key ids.
	AccessKeyIDLen = 20
	// SecretAccessKeyLen is the length of generated secret access keys.
	SecretAccessKeyLen = 40

	accessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// NewID returns a random entity id: 16 lowercase hex characters from
// crypto/rand.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go >= 1.24)
	return hex.EncodeToString(b[:])
}

// NewAccessKeyID returns a random access key id: 20 characters of [A-Z0-9],
// uniformly drawn from crypto/rand.
func NewAccessKeyID() string {
	return randomString(AccessKeyIDLen, accessKeyAlphabet)
}

// NewSecretAccessKey returns a random secret access key: 40 characters of
// [A-Za-z0-9+/] (like AWS secrets), uniformly drawn from crypto/rand.
func NewSecretAccessKey() string {
	return randomString(SecretAccessKeyLen, secretAlphabet)
}

// randomString draws n characters uniformly from alphabet (at most 256
// characters) by rejection sampling, so no character is favoured.
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet) // bytes >= limit would bias the modulo
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}
