package configdb

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// TestOpenSchema1DB opens a DB sealed by the schema 1 binary (the commit
// before schema 2: testdata/schema1-sample.db is sample() at generation 7,
// written by it) and migrates it: the content, membership on both sides
// included, is what that binary sealed.
func TestOpenSchema1DB(t *testing.T) {
	b, err := os.ReadFile("testdata/schema1-sample.db")
	if err != nil {
		t.Fatal(err)
	}
	if b[8] != FormatVersion {
		t.Fatalf("fixture format %d", b[8])
	}
	st, h, err := Open(b, nil, testSecret)
	if err != nil {
		t.Fatalf("Open of a schema 1 db: %v", err)
	}
	if h.Schema != 1 || h.MinReaderSchema != 1 || h.Newer() || h.WriterNode != "schema-1-binary" || st.Generation() != 7 {
		t.Fatalf("header %+v, generation %d", h, st.Generation())
	}
	sameContent(t, sample(t).WithGeneration(7), st)
	if g, _ := st.GroupByName("readers"); !slices.Equal(g.MemberIDs, []string{"u-alice", "u-bob"}) {
		t.Fatalf("readers members %v", g.MemberIDs)
	}
	if cu, ok := st.Lookup("AKIABOB00000000000BB"); !ok || !cu.Allowed("read", "shared", "x") {
		t.Fatal("group permissions are not inherited after the migration")
	}
}

// TestSealSchemas: schema 1 is encoded as the schema 1 binary encoded it
// (membership on both sides), schema 2 stores it on the users only; both
// open to the same State; a schema 1 reader cannot read schema 2, which is
// why schema 2's min_reader_schema is 2.
func TestSealSchemas(t *testing.T) {
	s := sample(t).WithGeneration(3)
	keys := NewKeyCache(4)

	p1, err := encodeAt(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	old, err := json.Marshal(s.Data()) // the schema 1 binary's encoding
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1, old) || !bytes.Contains(p1, []byte(`"member_ids"`)) {
		t.Fatalf("schema 1 encoding differs from the schema 1 binary's:\n%s\n%s", p1, old)
	}
	p2, err := encodeAt(s, 2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p2, []byte("member_ids")) || !bytes.Contains(p2, []byte(`"group_ids"`)) {
		t.Fatalf("schema 2 stores member_ids: %s", p2)
	}
	if g, _ := s.GroupByName("readers"); len(g.MemberIDs) != 2 {
		t.Fatal("encoding schema 2 changed the State")
	}

	for _, schema := range []int{0, 1, 2} {
		b := sealTest(t, s, keys, SealOptions{Schema: schema})
		want := uint16(schema)
		if schema == 0 {
			want = CurrentSchema
		}
		got, h, err := Open(b, keys, testSecret)
		if err != nil {
			t.Fatalf("schema %d: %v", schema, err)
		}
		if h.Schema != want || h.MinReaderSchema != minReaderSchema(want) || b[8] != formatOf(want) {
			t.Fatalf("schema %d: header %+v", schema, h)
		}
		sameContent(t, s, got)
	}
	for _, bad := range []int{-1, CurrentSchema + 1} {
		if _, err := Seal(s, SealOptions{KDF: testKDF, Schema: bad}, keys, testSecret); err == nil {
			t.Fatalf("sealed schema %d", bad)
		}
	}

	// Not additive: a schema 1 binary decodes the schema 2 payload (no
	// field it does not know) but finds no member in any group, and its
	// validation (both sides) refuses every user that lists a group.
	d, err := decodePayload(p2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := build(3, d, nil); err == nil || !strings.Contains(err.Error(), "does not list the user as a member") {
		t.Fatalf("a schema 1 reader would accept schema 2: %v", err)
	}
}

// TestMigrateMembershipRefusesDisagreement: a schema 1 DB whose two sides
// of membership disagree is refused by the migration, naming the group.
func TestMigrateMembershipRefusesDisagreement(t *testing.T) {
	keys := NewKeyCache(4)
	user := func(id, groups string) string {
		return `{"id":"` + id + `","name":"` + id + `","access_key_id":"AKID` + id + `","secret_access_key":"secretsecret","enabled":true,` +
			`"created_at":"2026-01-01T00:00:00Z","group_ids":[` + groups + `]}`
	}
	for name, payload := range map[string]string{
		"member not listing the group": `{"users":[` + user("u1", "") + `],"groups":[{"id":"g1","name":"g","member_ids":["u1"]}]}`,
		"user not listed as member":    `{"users":[` + user("u1", `"g1"`) + `],"groups":[{"id":"g1","name":"g"}]}`,
		"member does not exist":        `{"users":[],"groups":[{"id":"g1","name":"g","member_ids":["ghost"]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := sealPayload([]byte(payload), 1, 1, 2, SealOptions{KDF: testKDF}, keys, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Open(b, keys, testSecret)
			wantErr(t, err, ErrInvalidState)
			if !strings.Contains(err.Error(), "migrate schema 1 to 2") || !strings.Contains(err.Error(), `"g1"`) {
				t.Fatalf("error %v", err)
			}
		})
	}
	// Agreeing sides (in any order) migrate.
	ok := `{"users":[` + user("u2", `"g1"`) + `,` + user("u1", `"g1"`) + `],"groups":[{"id":"g1","name":"g","member_ids":["u2","u1"]}]}`
	b, err := sealPayload([]byte(ok), 1, 1, 2, SealOptions{KDF: testKDF}, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := Open(b, keys, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := st.Group("g1"); !slices.Equal(g.MemberIDs, []string{"u1", "u2"}) {
		t.Fatalf("members %v", g.MemberIDs)
	}
}

// TestDeriveMembers: the derived member lists are sorted, exact, and do not
// share storage (appending to one never writes into the next).
func TestDeriveMembers(t *testing.T) {
	d := Data{
		Users:  []iam.User{{ID: "u3", GroupIDs: []string{"g1", "g2"}}, {ID: "u1", GroupIDs: []string{"g1", "ghost"}}, {ID: "u2"}},
		Groups: []iam.Group{{ID: "g1", MemberIDs: []string{"stale"}}, {ID: "g2"}, {ID: "g3"}},
	}
	deriveMembers(&d)
	if !slices.Equal(d.Groups[0].MemberIDs, []string{"u1", "u3"}) || !slices.Equal(d.Groups[1].MemberIDs, []string{"u3"}) || d.Groups[2].MemberIDs != nil {
		t.Fatalf("derived %v %v %v", d.Groups[0].MemberIDs, d.Groups[1].MemberIDs, d.Groups[2].MemberIDs)
	}
	_ = append(d.Groups[0].MemberIDs, "x")
	if d.Groups[1].MemberIDs[0] != "u3" {
		t.Fatal("member lists share storage")
	}
}
