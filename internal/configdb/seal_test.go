package configdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

var testSecret = []byte("correct horse battery staple")

func sealTest(tb testing.TB, s *State, keys *KeyCache, opts SealOptions) []byte {
	tb.Helper()
	if opts.KDF == (KDFParams{}) && opts.Prev == nil {
		opts.KDF = testKDF
	}
	b, err := Seal(s, opts, keys, testSecret)
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return b
}

// formatOf is the container format Seal writes a schema in.
func formatOf(schema uint16) uint8 {
	if minReaderSchema(schema) < schema {
		return FormatVersionMinReader
	}
	return FormatVersion
}

func sameContent(tb testing.TB, a, b *State) {
	tb.Helper()
	if a.Generation() != b.Generation() {
		tb.Errorf("generation %d != %d", a.Generation(), b.Generation())
	}
	ja, _ := a.MarshalJSONView(true)
	jb, _ := b.MarshalJSONView(true)
	if !bytes.Equal(ja, jb) {
		tb.Errorf("content differs:\n%s\n---\n%s", ja, jb)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := sample(t).WithGeneration(17)
	keys := NewKeyCache(4)
	now := time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
	b := sealTest(t, s, keys, SealOptions{WriterNode: "node-a", Now: now})

	got, h, err := Open(b, keys, testSecret)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sameContent(t, s, got)
	want := Header{FormatVersion: formatOf(CurrentSchema), Schema: CurrentSchema, MinReaderSchema: minReaderSchema(CurrentSchema), Generation: 17, SealedAt: now.Truncate(time.Millisecond),
		WriterNode: "node-a", KDF: testKDF, Salt: h.Salt, Nonce: h.Nonce, CiphertextLen: uint32(len(b) - h.Len())}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("header\n got %+v\nwant %+v", h, want)
	}
	if rh, err := ReadHeader(b); err != nil || !reflect.DeepEqual(rh, h) {
		t.Errorf("ReadHeader = %+v, %v", rh, err)
	}
	cu, ok := got.Lookup("AKIAALICE0000000000A")
	if !ok || !cu.Allowed(iam.ActionAdmin, "b", "") {
		t.Error("opened state's authorizer is not compiled")
	}
	if !got.SessionRevoked("u-bob", t0) {
		t.Error("revocations lost")
	}
	// The plaintext is not visible in the file.
	for _, secret := range []string{"alice-secret-0123456789", "client-secret-xyz", "alice"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("sealed file contains %q in clear", secret)
		}
	}
	// A fresh nonce every time: sealing the same state twice differs.
	b2 := sealTest(t, s, keys, SealOptions{WriterNode: "node-a", Now: now})
	if bytes.Equal(b, b2) {
		t.Error("two seals are identical (nonce reused)")
	}
	// An empty state round-trips too.
	e := sealTest(t, Empty(), keys, SealOptions{})
	if es, _, err := Open(e, keys, testSecret); err != nil || es.NumUsers() != 0 {
		t.Errorf("empty round trip: %v", err)
	}
}

func TestSealSaltReuseAndKeyCache(t *testing.T) {
	s := sample(t)
	keys := NewKeyCache(4)
	b1 := sealTest(t, s, keys, SealOptions{WriterNode: "w"})
	h1, _ := ReadHeader(b1)
	if keys.Derivations() != 1 {
		t.Fatalf("derivations after first seal = %d", keys.Derivations())
	}
	// Next seal reusing the previous header: same salt, no new derivation.
	b2, err := Seal(s.WithGeneration(2), SealOptions{WriterNode: "w", Prev: &h1}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := ReadHeader(b2)
	if h2.Salt != h1.Salt || h2.KDF != h1.KDF || h2.Nonce == h1.Nonce {
		t.Errorf("salt reuse: salt equal %v, kdf %+v, nonce equal %v", h2.Salt == h1.Salt, h2.KDF, h2.Nonce == h1.Nonce)
	}
	if _, _, err := Open(b2, keys, testSecret); err != nil {
		t.Fatal(err)
	}
	if keys.Derivations() != 1 {
		t.Errorf("derivations after reuse = %d, want 1", keys.Derivations())
	}
	// Other KDF parameters: fresh salt.
	other := KDFParams{Time: 2, MemoryKiB: 64, Threads: 1}
	b3, err := Seal(s, SealOptions{KDF: other, Prev: &h1}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h3, _ := ReadHeader(b3)
	if h3.Salt == h1.Salt || h3.KDF != other {
		t.Error("changed KDF parameters must draw a fresh salt")
	}
	// No Prev: fresh salt.
	b4 := sealTest(t, s, keys, SealOptions{})
	if h4, _ := ReadHeader(b4); h4.Salt == h1.Salt {
		t.Error("seal without Prev reused a salt")
	}
	// A nil cache works (derives every time).
	if _, _, err := Open(b1, nil, testSecret); err != nil {
		t.Errorf("Open with nil cache: %v", err)
	}
}

func TestKeyCacheBounded(t *testing.T) {
	keys := NewKeyCache(2)
	var salts [3][SaltSize]byte
	for i := range salts {
		salts[i][0] = byte(i + 1)
		keys.Key(testSecret, salts[i], testKDF)
	}
	if keys.Len() != 2 || keys.Derivations() != 3 {
		t.Fatalf("len %d derivations %d", keys.Len(), keys.Derivations())
	}
	k := keys.Key(testSecret, salts[2], testKDF) // still cached
	if keys.Derivations() != 3 {
		t.Error("cached key derived again")
	}
	keys.Key(testSecret, salts[0], testKDF) // evicted: derived again
	if keys.Derivations() != 4 {
		t.Error("evicted key not derived again")
	}
	if k != deriveKey(testSecret, salts[2], testKDF) {
		t.Error("cached key differs from a fresh derivation")
	}
	if keys.Key([]byte("other"), salts[2], testKDF) == k {
		t.Error("different secrets share a cache entry")
	}
}

func TestKeyCacheConcurrent(t *testing.T) {
	keys := NewKeyCache(4)
	var salt [SaltSize]byte
	want := deriveKey(testSecret, salt, testKDF)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			if keys.Key(testSecret, salt, testKDF) != want {
				errs <- errors.New("wrong key")
				return
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if keys.Derivations() != 1 {
		t.Errorf("derivations = %d, want 1 (concurrent callers wait for one derivation)", keys.Derivations())
	}
}

func TestOpenWrongSecret(t *testing.T) {
	keys := NewKeyCache(4)
	b := sealTest(t, sample(t), keys, SealOptions{})
	_, _, err := Open(b, keys, []byte("wrong password"))
	wantErr(t, err, ErrAuthFailed)
	wantErr(t, err, ErrWrongSecret)
	if msg := err.Error(); !strings.Contains(msg, "wrong bootstrap secret") || !strings.Contains(msg, "tampered") {
		t.Errorf("message should name both causes: %q", msg)
	}
	_, _, err = Open(b, keys, nil)
	wantErr(t, err, ErrNoSecret)
	_, err = Seal(sample(t), SealOptions{KDF: testKDF}, keys, nil)
	wantErr(t, err, ErrNoSecret)
}

// TestOpenRejectsEveryFlippedByte flips each byte of a small sealed file in
// turn: every variant must be refused.
func TestOpenRejectsEveryFlippedByte(t *testing.T) {
	s := mustApply(t, Empty(), &CreateUser{ID: "u1", Name: "a", AccessKeyID: "AKID1", SecretAccessKey: "secretsecret", Enabled: true})
	keys := NewKeyCache(16)
	b := sealTest(t, s, keys, SealOptions{WriterNode: "n1", Now: t0})
	if _, _, err := Open(b, keys, testSecret); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for _, mask := range []byte{0x01, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= mask
			if st, _, err := Open(c, keys, testSecret); err == nil {
				t.Fatalf("byte %d ^ %#x: accepted (users %d)", i, mask, st.NumUsers())
			}
		}
	}
}

func TestOpenRejectsEveryTruncation(t *testing.T) {
	keys := NewKeyCache(4)
	b := sealTest(t, sample(t), keys, SealOptions{WriterNode: "node"})
	for n := range len(b) {
		_, _, err := Open(b[:n], keys, testSecret)
		if err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("truncated to %d bytes: %v, want ErrTruncated", n, err)
		}
	}
	_, _, err := Open(append(bytes.Clone(b), 0), keys, testSecret)
	wantErr(t, err, ErrMalformed)
}

func TestOpenHeaderRejections(t *testing.T) {
	keys := NewKeyCache(4)
	// Schema 2 is written in format 1, whose offsets the patches use.
	good := sealTest(t, sample(t), keys, SealOptions{WriterNode: "node", Schema: 2})
	h, _ := ReadHeader(good)
	kdfOff := headerPrefixLen + len(h.WriterNode)

	patch := func(f func(b []byte)) []byte {
		c := bytes.Clone(good)
		f(c)
		return c
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic prefix only", []byte("DGPC"), ErrTruncated},
		{"unknown magic", patch(func(b []byte) { copy(b, "NOTADGPD") }), ErrBadMagic},
		{"short garbage", []byte("hello"), ErrBadMagic},
		{"future format", patch(func(b []byte) { b[8] = 3 }), ErrUnsupportedFormat},
		{"newer schema", patch(func(b []byte) { binary.BigEndian.PutUint16(b[9:], CurrentSchema+1) }), ErrSchemaTooNew},
		{"schema 0 without migration", patch(func(b []byte) { binary.BigEndian.PutUint16(b[9:], 0) }), ErrUnsupportedFormat},
		{"node id too long", patch(func(b []byte) { b[27] = MaxWriterNodeLen + 1 }), ErrMalformed},
		{"absurd memory", patch(func(b []byte) { binary.BigEndian.PutUint32(b[kdfOff+4:], 1<<30) }), ErrBadKDFParams},
		{"memory below argon2 minimum", patch(func(b []byte) { binary.BigEndian.PutUint32(b[kdfOff+4:], 4) }), ErrBadKDFParams},
		{"absurd time", patch(func(b []byte) { binary.BigEndian.PutUint32(b[kdfOff:], 1_000_000) }), ErrBadKDFParams},
		{"zero time", patch(func(b []byte) { binary.BigEndian.PutUint32(b[kdfOff:], 0) }), ErrBadKDFParams},
		{"absurd threads", patch(func(b []byte) { b[kdfOff+8] = 255 }), ErrBadKDFParams},
		{"zero threads", patch(func(b []byte) { b[kdfOff+8] = 0 }), ErrBadKDFParams},
		{"ciphertext shorter than tag", patch(func(b []byte) { binary.BigEndian.PutUint32(b[h.Len()-4:], 3) }), ErrMalformed},
		{"ciphertext length too large", patch(func(b []byte) { binary.BigEndian.PutUint32(b[h.Len()-4:], 1<<31) }), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := keys.Derivations()
			_, _, err := Open(tt.b, keys, testSecret)
			wantErr(t, err, tt.want)
			if keys.Derivations() != before {
				t.Error("a key was derived for a file refused by its header")
			}
		})
	}
}

func TestNewerSchemaRefusedWithoutKey(t *testing.T) {
	payload, _ := encodeData(sample(t))
	b, err := sealPayload(payload, CurrentSchema+1, CurrentSchema+1, 9, SealOptions{WriterNode: "new-binary", KDF: testKDF}, nil, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(b)
	if err != nil {
		t.Fatalf("ReadHeader of a newer schema: %v", err)
	}
	if h.Schema != CurrentSchema+1 || h.Generation != 9 || h.WriterNode != "new-binary" {
		t.Errorf("header %+v", h)
	}
	// No secret at all: refused on the schema, before any decryption.
	_, _, err = Open(b, nil, nil)
	wantErr(t, err, ErrSchemaTooNew)
	for _, want := range []string{fmt.Sprintf("schema %d", CurrentSchema+1), fmt.Sprintf("supports schema %d", CurrentSchema), "upgrade this instance"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestOpenInvalidContent(t *testing.T) {
	keys := NewKeyCache(4)
	for name, payload := range map[string]string{
		"not json":      "{{{",
		"unknown field": `{"users":[],"groups":[],"auth_providers":[],"session_revocations":{},"flavour":"x"}`,
		"trailing data": `{"users":[]} {}`,
		"dangling group": `{"users":[{"id":"a","name":"a","access_key_id":"KEY","secret_access_key":"secretsecret","enabled":true,` +
			`"created_at":"2026-01-01T00:00:00Z","group_ids":["ghost"]}],"groups":[],"auth_providers":[],"session_revocations":{}}`,
		"member_ids in schema 2": `{"users":[],"groups":[{"id":"g","name":"g","member_ids":[]}],"auth_providers":[],"session_revocations":{}}`,
		"duplicate key": `{"users":[{"id":"a","name":"a","access_key_id":"KEY","secret_access_key":"secretsecret","enabled":true,"created_at":"2026-01-01T00:00:00Z"},` +
			`{"id":"b","name":"b","access_key_id":"KEY","secret_access_key":"secretsecret","enabled":true,"created_at":"2026-01-01T00:00:00Z"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := sealPayload([]byte(payload), CurrentSchema, CurrentSchema, 1, SealOptions{KDF: testKDF}, keys, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Open(b, keys, testSecret)
			wantErr(t, err, ErrInvalidState)
		})
	}
}

// TestMigrationHook seals a DB in a fake schema 0 (in the form of schema
// 1) whose user names carry a "legacy-" prefix, and opens it with a 0 -> 1
// migration that strips it, chained with the real 1 -> 2.
func TestMigrationHook(t *testing.T) {
	keys := NewKeyCache(4)
	old := `{"users":[{"id":"u1","name":"legacy-alice","access_key_id":"AKID1","secret_access_key":"secretsecret","enabled":true,` +
		`"created_at":"2026-01-01T00:00:00Z","group_ids":["g1"]}],"groups":[{"id":"g1","name":"team","member_ids":["u1"]}]}`
	b, err := sealPayload([]byte(old), 0, 0, 5, SealOptions{KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	migrations := schemaMigrations()
	migrations[0] = func(d *Data) error {
		calls++
		for i := range d.Users {
			d.Users[i].Name = strings.TrimPrefix(d.Users[i].Name, "legacy-")
		}
		return nil
	}
	s, h, err := open(b, keys, testSecret, migrations)
	if err != nil {
		t.Fatalf("open with migration: %v", err)
	}
	if calls != 1 || h.Schema != 0 || s.Schema() != CurrentSchema || s.Generation() != 5 {
		t.Errorf("calls %d header schema %d state schema %d generation %d", calls, h.Schema, s.Schema(), s.Generation())
	}
	if u, ok := s.UserByName("alice"); !ok || u.ID != "u1" {
		t.Errorf("migrated user: %+v %v", u, ok)
	}
	if g, ok := s.Group("g1"); !ok || !slices.Equal(g.MemberIDs, []string{"u1"}) {
		t.Errorf("migrated group: %+v", g)
	}
	// Re-sealing writes the current schema.
	again := sealTest(t, s, keys, SealOptions{})
	if h2, _ := ReadHeader(again); h2.Schema != CurrentSchema {
		t.Errorf("re-sealed schema %d", h2.Schema)
	}
	// Without the migration the old schema is refused (before decryption).
	_, _, err = Open(b, keys, testSecret)
	wantErr(t, err, ErrUnsupportedFormat)
	// A failing migration refuses the DB.
	migrations[0] = func(*Data) error { return errors.New("boom") }
	_, _, err = open(b, keys, testSecret, migrations)
	wantErr(t, err, ErrInvalidState)
}

func TestSealRejectsBadOptions(t *testing.T) {
	s := sample(t)
	_, err := Seal(s, SealOptions{WriterNode: strings.Repeat("n", MaxWriterNodeLen+1), KDF: testKDF}, nil, testSecret)
	if err == nil {
		t.Error("long writer node accepted")
	}
	_, err = Seal(s, SealOptions{KDF: KDFParams{Time: 1, MemoryKiB: 1 << 30, Threads: 1}}, nil, testSecret)
	wantErr(t, err, ErrBadKDFParams)
	if err := DefaultKDFParams().Validate(); err != nil {
		t.Errorf("default KDF params invalid: %v", err)
	}
}

func FuzzReadHeader(f *testing.F) {
	s := mustApply(f, Empty(), &CreateUser{ID: "u1", Name: "a", AccessKeyID: "AKID1", SecretAccessKey: "secretsecret"})
	good, err := Seal(s, SealOptions{WriterNode: "node-1", KDF: testKDF, Now: t0}, nil, testSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:MinHeaderLen])
	f.Add([]byte(Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(b)
		if err != nil {
			return
		}
		// A header that parses re-encodes to the same bytes and respects the bounds.
		enc := appendHeader(nil, h)
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("re-encoded header differs:\n%x\n%x", enc, b[:len(enc)])
		}
		if h.Len() != len(enc) || h.KDF.Validate() != nil || len(h.WriterNode) > MaxWriterNodeLen || h.CiphertextLen < TagSize {
			t.Fatalf("accepted header out of bounds: %+v", h)
		}
	})
}
