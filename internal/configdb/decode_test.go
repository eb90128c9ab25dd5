package configdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// referenceDecode is the decoder decodePayload replaced: encoding/json into
// the stored form of the schema (schema 1: membership on both sides;
// schema 2: groups without member_ids; schema 3: Data itself, groups
// without member_ids, providers with redirect_url and group_mappings),
// unknown fields refused, nothing but whitespace after the value.
func referenceDecode(payload []byte, schema uint16) (Data, error) {
	switch schema {
	case 1:
		var r dataV1
		err := strictJSON(payload, &r)
		return Data{Users: r.Users, Groups: r.Groups, Providers: providersOf(r.Providers), Revocations: r.Revocations}, err
	case 2:
		var r dataV2
		err := strictJSON(payload, &r)
		return Data{Users: r.Users, Groups: groupsOf(r.Groups), Providers: providersOf(r.Providers), Revocations: r.Revocations}, err
	}
	var r dataV3
	err := strictJSON(payload, &r)
	return Data{Users: r.Users, Groups: groupsOf(r.Groups), Providers: r.Providers, Revocations: r.Revocations}, err
}

func groupsOf(gs []groupV2) []iam.Group {
	if gs == nil {
		return nil
	}
	out := make([]iam.Group, len(gs))
	for i, g := range gs {
		out[i] = iam.Group{ID: g.ID, Name: g.Name, Description: g.Description, Permissions: g.Permissions}
	}
	return out
}

func providersOf(ps []providerV2) []iam.AuthProvider {
	if ps == nil {
		return nil
	}
	out := make([]iam.AuthProvider, len(ps))
	for i, p := range ps {
		out[i] = iam.AuthProvider{ID: p.ID, Name: p.Name, Type: p.Type, IssuerURL: p.IssuerURL, ClientID: p.ClientID,
			ClientSecret: p.ClientSecret, Scopes: p.Scopes, Enabled: p.Enabled, Priority: p.Priority, DisplayName: p.DisplayName}
	}
	return out
}

// dataV1 is the stored form of schema 1.
type dataV1 struct {
	Users       []iam.User           `json:"users"`
	Groups      []iam.Group          `json:"groups"`
	Providers   []providerV2         `json:"auth_providers"`
	Revocations map[string]time.Time `json:"session_revocations"`
}

// dataV2, groupV2 and providerV2 are the stored form of schema 2.
type dataV2 struct {
	Users       []iam.User           `json:"users"`
	Groups      []groupV2            `json:"groups"`
	Providers   []providerV2         `json:"auth_providers"`
	Revocations map[string]time.Time `json:"session_revocations"`
}

type providerV2 struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	IssuerURL    string   `json:"issuer_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Enabled      bool     `json:"enabled"`
	Priority     int      `json:"priority"`
	DisplayName  string   `json:"display_name,omitempty"`
}

// dataV3 is the stored form of schema 3.
type dataV3 struct {
	Users       []iam.User           `json:"users"`
	Groups      []groupV2            `json:"groups"`
	Providers   []iam.AuthProvider   `json:"auth_providers"`
	Revocations map[string]time.Time `json:"session_revocations"`
}

type groupV2 struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Permissions []iam.Rule `json:"permissions,omitempty"`
}

func strictJSON(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// sameDecoding fails unless decodePayload and referenceDecode both refuse
// payload, or both accept it with deeply equal results, in the form of
// every schema this binary reads.
func sameDecoding(t *testing.T, payload []byte) {
	t.Helper()
	for schema := uint16(1); schema <= CurrentSchema; schema++ {
		got, err := decodePayload(payload, schema, false)
		want, wantErr := referenceDecode(payload, schema)
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("schema %d, payload %q:\ndecodePayload error: %v\nencoding/json error: %v", schema, payload, err, wantErr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("schema %d, payload %q:\ndecodePayload: %#v\nencoding/json: %#v", schema, payload, got, want)
		}
		// decodeOn (OpenOn's decoder, recording the users' texts) decodes
		// alike, and with a State holding those texts too.
		on, texts, onErr := decodeOn(payload, schema, false, nil)
		switch {
		case (onErr == nil) != (err == nil):
			t.Fatalf("schema %d, payload %q:\ndecodeOn error: %v\ndecodePayload error: %v", schema, payload, onErr, err)
		case err == nil && !reflect.DeepEqual(on, got):
			t.Fatalf("schema %d, payload %q:\ndecodeOn: %#v\ndecodePayload: %#v", schema, payload, on, got)
		}
		if err != nil || texts.users == nil || len(texts.users) != len(on.Users) {
			continue
		}
		held := &State{users: on.Users, groups: on.Groups, raw: &texts}
		if texts.groups != nil && len(texts.groups) != len(on.Groups) {
			held.raw.groups = nil
		}
		again, _, againErr := decodeOn(payload, schema, false, held)
		if againErr != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("schema %d, payload %q:\ndecodeOn over its own texts: %#v (%v)\ndecodePayload: %#v", schema, payload, again, againErr, got)
		}
	}
}

// decodeSeeds are payloads exercising every field and the corners of the
// JSON grammar and of encoding/json's behaviour.
func decodeSeeds(tb testing.TB, users int) [][]byte {
	full, err := encodeData(sample(tb))
	if err != nil {
		tb.Fatal(err)
	}
	full1, err := encodeAt(sample(tb), 1)
	if err != nil {
		tb.Fatal(err)
	}
	big, err := encodeData(bigState(tb, users))
	if err != nil {
		tb.Fatal(err)
	}
	seeds := append([][]byte{full, full1, big}, fullPayloads(tb)...)
	for _, s := range []string{
		``, ` `, `null`, ` null `, `{}`, `[]`, `"x"`, `1`, `true`, `{} `, `{}]`, `{}}`, `{},`, `{} {}`,
		`{"users":null,"groups":null,"auth_providers":null,"session_revocations":null}`,
		`{"users":[],"groups":[],"auth_providers":[],"session_revocations":{}}`,
		`{"USERS":[{"ID":"a","Name":"n","Access_Key_ID":"K","enabled":true}]}`,
		`{"users":[{"id":"a","name":"x"}],"users":[{"id":"b"}]}`,
		`{"users":[{"id":"a","name":"x"},{"id":"c"}],"users":[{"id":"b"}]}`,
		`{"users":[{"id":"a"}],"users":[]}`,
		`{"users":[null,{"id":"a","enabled":null,"created_at":null,"permissions":null,"group_ids":null}]}`,
		`{"users":[{"permissions":[{"effect":"Allow","actions":["read","*","x"],"resources":["b/*"]},null]}]}`,
		`{"users":[{"permissions":[{"effect":"Allow","actions":["read"]}],"permissions":[{"resources":["x"]}]}]}`,
		`{"users":[{"group_ids":["a","b"],"group_ids":["c"]}]}`,
		`{"users":[{"group_ids":["a",null,"c"]}]}`,
		`{"users":[{"id":"\u0041\u00e9\ud83d\ude00\ud800x\udc00\"\\\/\b\f\n\r\t"}]}`,
		"{\"users\":[{\"id\":\"caf\xc3\xa9 \xff\xfe bad\"}]}",
		"{\"users\":[{\"id\":\"a\x01\"}]}",
		`{"users":[{"id":"\x"}]}`, `{"users":[{"id":"\u12"}]}`, `{"users":[{"id":"abc`,
		`{"users":[{"created_at":"2026-01-02T03:04:05Z"}]}`,
		`{"users":[{"created_at":"2026-01-02T03:04:05.123456789+02:00"}]}`,
		`{"users":[{"created_at":"2026-01-02"}]}`, `{"users":[{"created_at":1}]}`, `{"users":[{"created_at":{}}]}`,
		`{"users":[{"created_at":"2026-01-02T03:04:05\u005a"}]}`,
		`{"users":[{"enabled":1}]}`, `{"users":[{"enabled":"true"}]}`, `{"users":[{"id":1}]}`, `{"users":[{"id":[]}]}`,
		`{"users":{}}`, `{"users":"x"}`, `{"users":[1]}`, `{"users":[[]]}`, `{"users":[{"x":1}]}`,
		`{"auth_providers":[{"id":"p","priority":1,"scopes":["openid","email"],"enabled":true}]}`,
		`{"auth_providers":[{"priority":-0}]}`, `{"auth_providers":[{"priority":1.0}]}`, `{"auth_providers":[{"priority":1e2}]}`,
		`{"auth_providers":[{"priority":99999999999999999999}]}`, `{"auth_providers":[{"priority":-}]}`,
		`{"auth_providers":[{"priority":01}]}`, `{"auth_providers":[{"priority":"1"}]}`, `{"auth_providers":[{"priority":null}]}`,
		`{"groups":[{"id":"g","description":"d","member_ids":["u"],"permissions":[{"effect":"Deny","actions":["list"],"resources":["*"]}]}]}`,
		`{"auth_providers":[{"id":"p","redirect_url":"https://x/_/api/admin/oidc/callback","group_mappings":[{"email":"*@x","groups":["g"]},{"claim":"c","value":"v","regex":"r","groups":null},null]}]}`,
		`{"auth_providers":[{"group_mappings":[{"groups":["a"],"groups":["b","c"]},{"Claim":"x"}],"group_mappings":[{"email":"e"}]}]}`,
		`{"auth_providers":[{"group_mappings":{}}]}`, `{"auth_providers":[{"group_mappings":[{"x":1}]}]}`,
		`{"auth_providers":[{"group_mappings":[]}]}`, `{"auth_providers":[{"group_mappings":[{"groups":[1]}]}]}`,
		`{"session_revocations":{"a":"2026-01-02T03:04:05Z","b":null,"a":"2027-01-02T03:04:05Z"}}`,
		`{"session_revocations":{"a":"2026-01-02T03:04:05Z"},"session_revocations":{"b":"2026-01-02T03:04:05Z"}}`,
		`{"session_revocations":[]}`, `{"session_revocations":{"a":1}}`,
		`{"users":[],}`, `{"users":[,]}`, `{"users":[{},]}`, `{,}`, `{"users" []}`, `{"users":[] "groups":[]}`,
		"\t{\n\"users\" : [ ] ,\r\"groups\":[ ]\n}\n",
		`{"users":[{"id":"a"}]}` + "\x00",
		`{"users":[{"group_ids":[],"permissions":[{"actions":[],"resources":[]}]}],"auth_providers":[{"scopes":[]}]}`,
		`{"users":[{"permissions":[]}],"groups":[{"member_ids":[],"permissions":[]}]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	for _, depth := range []int{100, 9990, 10010} { // encoding/json refuses nesting beyond 10000
		seeds = append(seeds, []byte(`{"users":[{"created_at":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}]}`))
	}
	return seeds
}

func TestDecodeDataMatchesEncodingJSON(t *testing.T) {
	seeds := decodeSeeds(t, 30)
	for _, s := range seeds {
		sameDecoding(t, s)
	}
	// Random mutations of the seeds: bytes replaced, inserted or deleted,
	// drawn mostly from the characters that matter to JSON.
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "{}[]:,\"\\ nulltruefalse0123456789-+.eEu\xff\xc3"
	for range 30_000 {
		b := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for range 1 + rng.IntN(3) {
			i := 0
			if len(b) > 0 {
				i = rng.IntN(len(b))
			}
			c := alphabet[rng.IntN(len(alphabet))]
			switch op := rng.IntN(3); {
			case op == 0 && len(b) > 0:
				b[i] = c
			case op == 1:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			case len(b) > 0:
				b = append(b[:i], b[i+1:]...)
			}
		}
		sameDecoding(t, b)
	}
}

func TestDecodeDataDoesNotShareLists(t *testing.T) {
	d, err := decodeData([]byte(`{"users":[{"id":"a","group_ids":["g1"]},{"id":"b","group_ids":["g2"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := append(d.Users[0].GroupIDs, "g3") // capped: must not overwrite b's list
	if d.Users[1].GroupIDs[0] != "g2" || len(a) != 2 {
		t.Errorf("lists share storage: %v %v", d.Users[1].GroupIDs, a)
	}
}

func FuzzDecodeData(f *testing.F) {
	for _, s := range decodeSeeds(f, 2) { // small seeds: minimizing stays cheap
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameDecoding(t, b)
	})
}
