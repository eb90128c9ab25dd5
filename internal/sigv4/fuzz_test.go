package sigv4

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	const cred = "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"documented form", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;range;x-amz-date, Signature=" + sig, true},
		{"no spaces", "AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host,Signature=" + sig, true},
		{"any order", "AWS4-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host, " + cred, true},
		{"access key with slash", "AWS4-HMAC-SHA256 Credential=a/b/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=" + sig, true},
		{"missing signature", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host", false},
		{"duplicate credential", "AWS4-HMAC-SHA256 " + cred + ", " + cred + ", SignedHeaders=host, Signature=" + sig, false},
		{"unknown component", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig + ", Foo=bar", false},
		{"no space after algorithm", "AWS4-HMAC-SHA256" + cred + ", SignedHeaders=host, Signature=" + sig, false},
		{"empty signed header", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x, Signature=" + sig, false},
		{"upper-case signed header", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host, Signature=" + sig, false},
		{"short credential", "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3, SignedHeaders=host, Signature=" + sig, false},
		{"empty access key", "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, false},
		{"bad date", "AWS4-HMAC-SHA256 Credential=AKID/20131324/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, false},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AKID/20130524//s3/aws4_request, SignedHeaders=host, Signature=" + sig, false},
		{"empty value", "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=" + sig, false},
		{"other algorithm", "AWS4-HMAC-SHA512 " + cred + ", SignedHeaders=host, Signature=" + sig, false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		a, msg := parseAuthorization(tc.in)
		if ok := msg == ""; ok != tc.ok {
			t.Errorf("%s: parse ok = %v (%s), want %v", tc.name, ok, msg, tc.ok)
			continue
		}
		if tc.ok && (a.signature != sig || a.cred.date != "20130524" || a.cred.service != "s3") {
			t.Errorf("%s: parsed %+v", tc.name, a)
		}
	}
	a, _ := parseAuthorization("AWS4-HMAC-SHA256 Credential=a/b/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=" + sig)
	if a.cred.accessKeyID != "a/b" || a.cred.region != "r" || a.cred.scope != "20130524/r/s3/aws4_request" {
		t.Errorf("credential parsed as %+v", a.cred)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=x")
	f.Add("AWS4-HMAC-SHA256 Signature=,,,Credential=//////")
	f.Add("AWS AKID:sig")
	f.Fuzz(func(t *testing.T, in string) {
		a, msg := parseAuthorization(in)
		if msg != "" {
			if a != (authorization{}) {
				t.Fatalf("failed parse returned %+v", a)
			}
			return
		}
		c := a.cred
		if c.accessKeyID == "" || c.region == "" || c.service != "s3" || a.signature == "" ||
			!validSignedHeaders(a.signedHeaders) || !validScopeDate(c.date) ||
			c.scope != c.date+"/"+c.region+"/s3/aws4_request" {
			t.Fatalf("accepted an invalid header: %+v", a)
		}
		// What was parsed, printed in the canonical form, parses the same.
		again := "AWS4-HMAC-SHA256 Credential=" + c.accessKeyID + "/" + c.scope +
			", SignedHeaders=" + a.signedHeaders + ", Signature=" + a.signature
		b, msg := parseAuthorization(again)
		if msg != "" || b != a {
			t.Fatalf("round trip of %q: %+v, %q; want %+v", again, b, msg, a)
		}
	})
}

// fuzzChunkedConfig is the decoder set-up of FuzzChunkedReader; its seed
// corpus is encoded with the same key and seed signature.
func fuzzChunkedConfig(signed, trailer bool) chunkedConfig {
	cfg := chunkedConfig{signed: signed, trailer: trailer, hashes: newHashes()}
	if trailer {
		cfg.trailerAlg = checksumCRC32
	}
	if signed {
		cfg.key = deriveSigningKey(testSecret, "20240309", testRegion, "s3")
		cfg.amzDate = "20240309T101112Z"
		cfg.scope = "20240309/" + testRegion + "/s3/aws4_request"
		cfg.seed = strings.Repeat("ab", 32)
	}
	return cfg
}

// chunkedSeeds are valid encodings for each aws-chunked mode under
// fuzzChunkedConfig, and the payload they decode to.
func chunkedSeeds() (seeds []struct {
	body            []byte
	signed, trailer bool
}, payload []byte) {
	data := pattern(9000, 3)
	payload = append(append([]byte{}, data...), data[:10]...)
	for _, signed := range []bool{false, true} {
		for _, trailer := range []bool{false, true} {
			if !signed && !trailer {
				continue // no such mode
			}
			s := stream{signed: signed, trailerMode: trailer, chunks: [][]byte{data, data[:10]}}
			if trailer {
				s.trailers = [][2]string{{"x-amz-checksum-crc32", crc32Base64(payload)}}
			}
			seeds = append(seeds, struct {
				body            []byte
				signed, trailer bool
			}{s.encode(newTestChain(testSecret, "20240309T101112Z", testRegion, strings.Repeat("ab", 32))), signed, trailer})
		}
	}
	return seeds, payload
}

func TestChunkedSeedsDecode(t *testing.T) {
	t.Parallel()
	seeds, payload := chunkedSeeds()
	for _, s := range seeds {
		got, err := io.ReadAll(newChunkedReader(bytes.NewReader(s.body), fuzzChunkedConfig(s.signed, s.trailer)))
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("signed=%v trailer=%v: %d bytes, %v", s.signed, s.trailer, len(got), err)
		}
	}
}

func FuzzChunkedReader(f *testing.F) {
	seeds, _ := chunkedSeeds()
	for _, s := range seeds {
		f.Add(s.body, s.signed, s.trailer, uint16(1000))
	}
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), false, true, uint16(1))
	f.Add([]byte("ffffff\r\n"), false, true, uint16(7))
	f.Fuzz(func(t *testing.T, in []byte, signed, trailer bool, bufSize uint16) {
		if !signed && !trailer {
			trailer = true
		}
		c := newChunkedReader(bytes.NewReader(in), fuzzChunkedConfig(signed, trailer))
		buf := make([]byte, int(bufSize)%4096+1)
		total := 0
		for i := 0; ; i++ {
			n, err := c.Read(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Read returned %d for a %d-byte buffer", n, len(buf))
			}
			total += n
			if total > len(in) {
				t.Fatalf("decoded %d bytes from %d bytes of input", total, len(in))
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				if _, err2 := c.Read(buf); err2 == nil || err2 == io.EOF {
					t.Fatalf("error %v not sticky: then %v", err, err2)
				}
				return
			}
			if n == 0 && i > len(in)+10 {
				t.Fatal("no progress")
			}
		}
	})
}
