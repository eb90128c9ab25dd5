package configdb

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// mapped returns sample with the google provider given a redirect URL and
// group mapping rules (schema 3 content).
func mapped(tb testing.TB) *State {
	tb.Helper()
	ms := []iam.GroupMapping{
		{Email: "*@example.com", Groups: []string{"g-readers"}},
		{Claim: "groups", Value: "dgp-admins", Groups: []string{"g-admins", "g-readers"}},
		{Claim: "hd", Regex: `^example\.com$`, Groups: []string{"g-admins"}},
	}
	redirect := "https://dgp.example.com" + iam.OIDCCallbackPath
	return mustApply(tb, sample(tb), &UpdateProvider{ID: "p-google", RedirectURL: &redirect, GroupMappings: &ms})
}

// TestSchema3OnlyForItsContent: the write-schema floor holds for a State
// without schema 3 content (sealed in the schema asked for, format 1); one
// with a redirect URL or mappings is raised to schema 3, readable from
// schema 2 (format 2), but refused at schema 1, whose readers cannot read
// schema 3.
func TestSchema3OnlyForItsContent(t *testing.T) {
	keys := NewKeyCache(4)
	plain, withMappings := sample(t), mapped(t)
	if plain.ContentSchema() != MinWriteSchema || withMappings.ContentSchema() != 3 {
		t.Fatalf("ContentSchema: %d, %d", plain.ContentSchema(), withMappings.ContentSchema())
	}
	for _, schema := range []int{1, 2} {
		b := sealTest(t, plain, keys, SealOptions{Schema: schema})
		if h, _ := ReadHeader(b); int(h.Schema) != schema || b[8] != FormatVersion {
			t.Fatalf("no schema 3 content, write schema %d: header %+v", schema, h)
		}
	}
	for _, schema := range []int{0, 2, 3} {
		b := sealTest(t, withMappings, keys, SealOptions{Schema: schema})
		h, err := ReadHeader(b)
		if err != nil || h.Schema != 3 || h.MinReaderSchema != 2 || b[8] != FormatVersionMinReader {
			t.Fatalf("mappings, write schema %d: header %+v, %v", schema, h, err)
		}
		got, _, err := Open(b, keys, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := withMappings.Provider("p-google")
		if p, _ := got.Provider("p-google"); !reflect.DeepEqual(p, want) {
			t.Fatalf("provider after the round trip\n got %+v\nwant %+v", p, want)
		}
	}
	_, err := Seal(withMappings, SealOptions{KDF: testKDF, Schema: 1}, keys, testSecret)
	wantErr(t, err, ErrInvalid)
	var fe *iam.FieldError
	if !errors.As(err, &fe) || fe.Field != "auth_providers[p-google]" || !strings.Contains(fe.Msg, "advanced.config_sync_write_schema") {
		t.Fatalf("refusal at schema 1: %v", err)
	}
	// Only the redirect URL is schema 3 content too.
	redirect := "https://dgp.example.com" + iam.OIDCCallbackPath
	onlyURL := mustApply(t, sample(t), &UpdateProvider{ID: "p-google", RedirectURL: &redirect})
	if onlyURL.ContentSchema() != 3 {
		t.Fatal("a redirect URL alone does not need schema 3")
	}
}

// TestSchema2ReaderOfSchema3: what a schema 2 binary does with a schema 3
// DB. Its header check passes (min_reader_schema 2) and marks it newer;
// its decoder (the schema 2 form, lenient for a newer schema: the
// decoder of this package at schema 2 is that binary's) skips
// redirect_url and group_mappings, and the State it builds enforces every
// user and group exactly as the schema 3 State does. The same payload
// read strictly as schema 2 is refused: the fields are unknown there.
func TestSchema2ReaderOfSchema3(t *testing.T) {
	keys := NewKeyCache(4)
	st := mapped(t).WithGeneration(5)
	b := sealTest(t, st, keys, SealOptions{Schema: 2})
	h, err := ReadHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	const oldCurrent = 2
	if int(h.MinReaderSchema) > oldCurrent || int(h.Schema) <= oldCurrent {
		t.Fatalf("header %+v: a schema 2 binary would not read it as a newer, readable schema", h)
	}
	payload, err := encodeAt(st, h.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(payload, []byte(`"group_mappings"`)) || !bytes.Contains(payload, []byte(`"redirect_url"`)) {
		t.Fatalf("schema 3 payload lacks the new fields: %s", payload)
	}
	d, err := decodePayload(payload, oldCurrent, true)
	if err != nil {
		t.Fatalf("schema 2 reader: %v", err)
	}
	deriveMembers(&d)
	old, err := build(h.Generation, d, nil)
	if err != nil {
		t.Fatalf("schema 2 reader: the state does not validate: %v", err)
	}
	want := st.Data()
	for i := range want.Providers {
		want.Providers[i].RedirectURL, want.Providers[i].GroupMappings = "", nil
	}
	if !reflect.DeepEqual(old.Data(), want) {
		t.Fatalf("schema 2 reader's state\n got %#v\nwant %#v", old.Data(), want)
	}
	for _, key := range []string{"AKIAALICE0000000000A", "AKIABOB00000000000BB", "AKIACAROL000000000CC"} {
		a, _ := old.Lookup(key)
		b, _ := st.Lookup(key)
		for _, bucket := range []string{"shared", "bob", "other"} {
			if a.Allowed(iam.ActionRead, bucket, "k") != b.Allowed(iam.ActionRead, bucket, "k") ||
				a.Allowed(iam.ActionAdmin, bucket, "") != b.Allowed(iam.ActionAdmin, bucket, "") {
				t.Fatalf("%s on %s: the schema 2 reader enforces otherwise", key, bucket)
			}
		}
	}
	if _, err := decodePayload(payload, oldCurrent, false); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("strict schema 2 decoding of a schema 3 payload: %v", err)
	}
}

// TestProviderMappingOps: mappings name groups that exist (refused with
// the rule's field otherwise, nothing changed); an update replaces the
// list; deleting a group removes it from the rules and drops a rule left
// without a group.
func TestProviderMappingOps(t *testing.T) {
	s := mapped(t)
	ghost := []iam.GroupMapping{{Email: "*", Groups: []string{"g-admins"}}, {Email: "*", Groups: []string{"g-readers", "g-ghost"}}}
	_, err := (&UpdateProvider{ID: "p-google", GroupMappings: &ghost}).Apply(s, t0)
	wantErr(t, err, ErrInvalid)
	var fe *iam.FieldError
	if !errors.As(err, &fe) || fe.Field != "group_mappings[1].groups[1]" || !strings.Contains(fe.Msg, `"g-ghost" does not exist`) {
		t.Fatalf("error %v", err)
	}
	_, err = NewCreateProvider(iam.AuthProvider{Name: "other", Type: "oidc", GroupMappings: ghost}).Apply(s, t0)
	wantErr(t, err, ErrInvalid)
	bad := []iam.GroupMapping{{Claim: "c", Regex: "(", Groups: []string{"g-admins"}}}
	_, err = (&UpdateProvider{ID: "p-google", GroupMappings: &bad}).Apply(s, t0)
	if !errors.As(err, &fe) || fe.Field != "group_mappings[0].regex" {
		t.Fatalf("bad regex: %v", err)
	}

	after := mustApply(t, s, &DeleteGroup{ID: "g-admins"})
	p, _ := after.Provider("p-google")
	want := []iam.GroupMapping{
		{Email: "*@example.com", Groups: []string{"g-readers"}},
		{Claim: "groups", Value: "dgp-admins", Groups: []string{"g-readers"}},
	}
	if !reflect.DeepEqual(p.GroupMappings, want) {
		t.Fatalf("mappings after deleting g-admins: %+v", p.GroupMappings)
	}
	if before, _ := s.Provider("p-google"); len(before.GroupMappings) != 3 || !slices.Contains(before.GroupMappings[1].Groups, "g-admins") {
		t.Fatalf("the base state changed: %+v", before.GroupMappings)
	}
	after = mustApply(t, after, &DeleteGroup{ID: "g-readers"})
	if p, _ := after.Provider("p-google"); p.GroupMappings != nil {
		t.Fatalf("rules left without groups are kept: %+v", p.GroupMappings)
	}

	none := []iam.GroupMapping{}
	cleared := mustApply(t, s, &UpdateProvider{ID: "p-google", GroupMappings: &none})
	if p, _ := cleared.Provider("p-google"); p.GroupMappings != nil || p.RedirectURL == "" {
		t.Fatalf("cleared: %+v", p)
	}
	if d := (&UpdateProvider{ID: "p", GroupMappings: &none}).Describe(); !strings.Contains(d, "group_mappings") {
		t.Fatalf("Describe: %s", d)
	}
}

// TestValidateRefusesDanglingMappingGroup: a DB whose mapping names a
// group it does not hold does not open.
func TestValidateRefusesDanglingMappingGroup(t *testing.T) {
	d := mapped(t).Data()
	d.Providers[0].GroupMappings[2].Groups = []string{"g-gone"}
	_, err := NewState(1, d)
	wantErr(t, err, ErrInvalid)
	if !strings.Contains(err.Error(), "auth_providers[p-google].group_mappings[2].groups") {
		t.Fatalf("error %v", err)
	}
}
