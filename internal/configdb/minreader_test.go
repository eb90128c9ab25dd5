package configdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// additivePayload is the payload of sample in a synthetic additive schema
// CurrentSchema+1: every object, at every level, carries a field this
// binary does not know (objects, lists and scalars, in the middle of the
// known ones).
func additivePayload(tb testing.TB) []byte {
	tb.Helper()
	payload, err := encodeData(sample(tb))
	if err != nil {
		tb.Fatal(err)
	}
	s := string(payload)
	for _, r := range []struct{ old, new string }{
		{`{"users":[`, `{"quota":{"bytes":1,"nested":[{"x":null}]},"users":[`},
		{`"enabled":true,`, `"enabled":true,"mfa":["totp","webauthn"],`},
		{`"name":"admins",`, `"name":"admins","owner":"u-alice",`},
		{`"effect":"Allow",`, `"effect":"Allow","condition":{"ip":"10.0.0.0/8"},`},
		{`"type":"oidc",`, `"type":"oidc","pkce":true,`},
	} {
		if !strings.Contains(s, r.old) {
			tb.Fatalf("sample payload lacks %s:\n%s", r.old, s)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	return []byte(s + "\n")
}

func TestFormat1UnlessMinReaderIsLower(t *testing.T) {
	keys := NewKeyCache(4)
	b := sealTest(t, sample(t), keys, SealOptions{WriterNode: "n", Schema: 2})
	if b[8] != FormatVersion {
		t.Fatalf("a db of schema 2 (not additive) is written in format %d, want 1 (older binaries read it)", b[8])
	}
	h, err := ReadHeader(b)
	if err != nil || h.MinReaderSchema != 2 || h.Len() != MinHeaderLen+1 {
		t.Fatalf("header %+v, %v", h, err)
	}
	b3 := sealTest(t, sample(t), keys, SealOptions{WriterNode: "n", Schema: 3})
	if h3, err := ReadHeader(b3); err != nil || b3[8] != FormatVersionMinReader || h3.Schema != 3 || h3.MinReaderSchema != 2 {
		t.Fatalf("schema 3 (additive) header %+v, %v: want format 2 readable from schema 2", h3, err)
	}

	payload := additivePayload(t)
	b2, err := sealPayload(payload, CurrentSchema+1, CurrentSchema, 4, SealOptions{WriterNode: "n", KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := ReadHeader(b2)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{FormatVersion: FormatVersionMinReader, Schema: CurrentSchema + 1, MinReaderSchema: CurrentSchema, Generation: 4,
		WriterNode: "n", KDF: testKDF, Salt: h2.Salt, Nonce: h2.Nonce, CiphertextLen: uint32(len(payload) + TagSize)}
	if !reflect.DeepEqual(h2, want) {
		t.Fatalf("format 2 header\n got %+v\nwant %+v", h2, want)
	}
	if h2.Len() != MinHeaderLen+2+1 || binary.BigEndian.Uint16(b2[11:]) != CurrentSchema {
		t.Fatalf("format 2 layout: len %d, bytes 11-12 = %d", h2.Len(), binary.BigEndian.Uint16(b2[11:]))
	}
	if enc := appendHeader(nil, h2); !bytes.Equal(enc, b2[:h2.Len()]) {
		t.Fatal("format 2 header does not re-encode to its bytes")
	}
	if _, err := sealPayload(payload, 3, 4, 1, SealOptions{KDF: testKDF}, keys, testSecret); err == nil {
		t.Fatal("sealed with a min reader schema above the schema")
	}
	if _, err := sealPayload(payload, 3, 0, 1, SealOptions{KDF: testKDF}, keys, testSecret); err == nil {
		t.Fatal("sealed with min reader schema 0")
	}
}

// TestOpenNewerAdditiveSchema: a DB of a newer schema whose min_reader_schema
// this binary supports opens, ignoring the fields it does not know, and is
// flagged Newer; the same payload at the current schema is refused (strict);
// a min_reader_schema above CurrentSchema is refused before any key
// derivation.
func TestOpenNewerAdditiveSchema(t *testing.T) {
	keys := NewKeyCache(4)
	payload := additivePayload(t)
	b, err := sealPayload(payload, CurrentSchema+1, CurrentSchema, 9, SealOptions{WriterNode: "new-binary", KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, h, err := Open(b, keys, testSecret)
	if err != nil {
		t.Fatalf("Open of an additive newer schema: %v", err)
	}
	if !h.Newer() || h.Schema != CurrentSchema+1 || h.MinReaderSchema != CurrentSchema || got.Generation() != 9 {
		t.Fatalf("header %+v newer %v generation %d", h, h.Newer(), got.Generation())
	}
	sameContent(t, sample(t).WithGeneration(9), got)
	if cu, ok := got.Lookup("AKIAALICE0000000000A"); !ok || !cu.Allowed("admin", "b", "") {
		t.Fatal("the newer db is not enforced")
	}

	// Strict everywhere else: the same payload as the current schema.
	same, err := sealPayload(payload, CurrentSchema, CurrentSchema, 9, SealOptions{KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(same, keys, testSecret)
	wantErr(t, err, ErrInvalidState)
	if !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("strict refusal: %v", err)
	}
	// Lenient decoding still refuses what is not JSON or does not validate.
	for _, bad := range []string{`{"users":[{"id":1}]}`, `{"x":[}`, `{"users":[{"id":"u","name":""}]}`} {
		b, err := sealPayload([]byte(bad), CurrentSchema+1, CurrentSchema, 9, SealOptions{KDF: testKDF}, keys, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = Open(b, keys, testSecret)
		wantErr(t, err, ErrInvalidState)
	}

	// Not readable by this binary: refused from the header alone.
	tooNew, err := sealPayload(payload, CurrentSchema+2, CurrentSchema+1, 9, SealOptions{WriterNode: "newer", KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	before := keys.Derivations()
	_, h, err = Open(tooNew, keys, testSecret)
	wantErr(t, err, ErrSchemaTooNew)
	if keys.Derivations() != before {
		t.Fatal("a key was derived for a db this binary cannot read")
	}
	for _, want := range []string{fmt.Sprintf("schema %d", CurrentSchema+2), fmt.Sprintf("readable from schema %d", CurrentSchema+1), "upgrade this instance"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if h.Schema != CurrentSchema+2 || h.MinReaderSchema != CurrentSchema+1 {
		t.Errorf("header of the refused db: %+v", h)
	}
}

// TestMinReaderIsAuthenticated: lowering the min_reader_schema of a DB (to
// make an older binary read what it cannot) fails authentication, and a
// format 2 header that states a min reader not below the schema is
// malformed.
func TestMinReaderIsAuthenticated(t *testing.T) {
	keys := NewKeyCache(4)
	payload := additivePayload(t)
	b, err := sealPayload(payload, CurrentSchema+2, CurrentSchema+1, 9, SealOptions{KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	lowered := bytes.Clone(b)
	binary.BigEndian.PutUint16(lowered[11:], CurrentSchema)
	_, _, err = Open(lowered, keys, testSecret)
	wantErr(t, err, ErrAuthFailed)

	for name, patch := range map[string]func([]byte){
		"min reader equals schema": func(c []byte) { binary.BigEndian.PutUint16(c[11:], CurrentSchema+2) },
		"min reader above schema":  func(c []byte) { binary.BigEndian.PutUint16(c[11:], CurrentSchema+3) },
		"min reader zero":          func(c []byte) { binary.BigEndian.PutUint16(c[11:], 0) },
	} {
		c := bytes.Clone(b)
		patch(c)
		if _, err := ReadHeader(c); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantErr(t, err, ErrMalformed)
		}
	}
	// Every truncation of a format 2 file is refused as truncated.
	for n := 0; n < len(b); n++ {
		if _, _, err := Open(b[:n], keys, testSecret); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}
