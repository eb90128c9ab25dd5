package admin

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// TestProviderMappingsAPI: redirect_url and group_mappings (groups by id)
// are stored, shown (every matcher field present), validated with the
// rule's field path (nothing stored on bad input), replaced by PUT,
// cleared by [], kept when absent, and follow a group's deletion.
func TestProviderMappingsAPI(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	ops := c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "ops"}).obj(t)["id"].(string)
	devs := c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "devs"}).obj(t)["id"].(string)
	const redirect = "https://dgp.example.com" + iam.OIDCCallbackPath

	p := c.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{
		"name": "corp", "issuer_url": "https://login.example.com", "client_id": "dgp", "client_secret": "s3cret-s3cret",
		"redirect_url": redirect,
		"group_mappings": []map[string]any{
			{"email": "*@example.com", "groups": []string{devs}},
			{"claim": "groups", "value": "dgp-admins", "groups": []string{ops, devs}},
			{"claim": "hd", "regex": `^example\.com$`, "groups": []string{ops}},
		},
	}).obj(t)
	pid := p["id"].(string)
	wantMappings := []any{
		map[string]any{"email": "*@example.com", "claim": "", "value": "", "regex": "", "groups": []any{devs}},
		map[string]any{"email": "", "claim": "groups", "value": "dgp-admins", "regex": "", "groups": []any{ops, devs}},
		map[string]any{"email": "", "claim": "hd", "value": "", "regex": `^example\.com$`, "groups": []any{ops}},
	}
	if p["redirect_url"] != redirect || !reflect.DeepEqual(p["group_mappings"], wantMappings) {
		t.Fatalf("create answer %v", p)
	}
	if got := c.must(http.StatusOK, "GET", "/auth-providers/"+pid, nil).obj(t); !reflect.DeepEqual(got["group_mappings"], wantMappings) {
		t.Fatalf("GET: %v", got["group_mappings"])
	}
	stored, _ := h.iam.Current().Provider(pid)
	if g := iam.MapGroups(stored, map[string]any{"email": "a@example.com", "groups": []any{"dgp-admins"}}); !reflect.DeepEqual(g, sorted(ops, devs)) {
		t.Fatalf("MapGroups on the stored provider: %q", g)
	}

	// A provider without the new fields shows them empty.
	plain := c.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{"name": "plain"}).obj(t)
	if plain["redirect_url"] != "" || !reflect.DeepEqual(plain["group_mappings"], []any{}) {
		t.Fatalf("plain provider %v", plain)
	}

	gen := h.iam.Current().Generation()
	for _, b := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"redirect_url": "https://dgp.example.com/callback"}, "redirect_url"},
		{map[string]any{"redirect_url": "not a url"}, "redirect_url"},
		{map[string]any{"group_mappings": []map[string]any{{"email": "*", "groups": []string{ops}}, {"claim": "c", "regex": "a(", "groups": []string{ops}}}}, "group_mappings[1].regex"},
		{map[string]any{"group_mappings": []map[string]any{{"email": "*", "claim": "c", "value": "v", "groups": []string{ops}}}}, "group_mappings[0]"},
		{map[string]any{"group_mappings": []map[string]any{{"claim": "c", "groups": []string{ops}}}}, "group_mappings[0]"},
		{map[string]any{"group_mappings": []map[string]any{{"email": "*"}}}, "group_mappings[0].groups"},
		{map[string]any{"group_mappings": []map[string]any{{"email": "*", "groups": []string{"no-such-group"}}}}, "group_mappings[0].groups[0]"},
		{map[string]any{"group_mappings": []map[string]any{{"email": "*", "groups": []string{"ops"}}}}, "group_mappings[0].groups[0]"}, // a name, not an id
	} {
		m := wantError(t, c.do("PUT", "/auth-providers/"+pid, b.body), http.StatusBadRequest, "invalid")
		if m["field"] != b.field {
			t.Errorf("PUT %v: field %v, want %q (%v)", b.body, m["field"], b.field, m["message"])
		}
		b.body["name"] = "new-" + strings.ReplaceAll(b.field, "[", "")
		b.body["name"] = strings.NewReplacer("]", "", ".", "-").Replace(b.body["name"].(string))
		if m := wantError(t, c.do("POST", "/auth-providers", b.body), http.StatusBadRequest, "invalid"); m["field"] != b.field {
			t.Errorf("POST %v: field %v, want %q", b.body, m["field"], b.field)
		}
	}
	wantError(t, c.do("PUT", "/auth-providers/"+pid, map[string]any{"group_mappings": []map[string]any{{"email": "*", "groups": []string{ops}, "role": "x"}}}),
		http.StatusBadRequest, "bad_request")
	if h.iam.Current().Generation() != gen {
		t.Fatal("a refused request changed the state")
	}

	// Absent: kept. Replaced as a whole. [] clears.
	c.must(http.StatusOK, "PUT", "/auth-providers/"+pid, map[string]any{"priority": 2})
	if got, _ := h.iam.Current().Provider(pid); len(got.GroupMappings) != 3 || got.RedirectURL != redirect {
		t.Fatalf("an update without the fields changed them: %+v", got)
	}
	got := c.must(http.StatusOK, "PUT", "/auth-providers/"+pid, map[string]any{
		"group_mappings": []map[string]any{{"claim": "groups", "value": "x", "groups": []string{ops}}}}).obj(t)
	if want := []any{map[string]any{"email": "", "claim": "groups", "value": "x", "regex": "", "groups": []any{ops}}}; !reflect.DeepEqual(got["group_mappings"], want) {
		t.Fatalf("replaced: %v", got["group_mappings"])
	}
	c.must(http.StatusNoContent, "DELETE", "/groups/"+ops, nil)
	if got, _ := h.iam.Current().Provider(pid); got.GroupMappings != nil {
		t.Fatalf("a rule left without groups after the group's deletion: %+v", got.GroupMappings)
	}
	got = c.must(http.StatusOK, "PUT", "/auth-providers/"+pid, map[string]any{
		"group_mappings": []map[string]any{{"email": "*", "groups": []string{devs}}}, "redirect_url": ""}).obj(t)
	if got["redirect_url"] != "" || len(got["group_mappings"].([]any)) != 1 {
		t.Fatalf("update: %v", got)
	}
	got = c.must(http.StatusOK, "PUT", "/auth-providers/"+pid, map[string]any{"group_mappings": []any{}}).obj(t)
	if !reflect.DeepEqual(got["group_mappings"], []any{}) {
		t.Fatalf("cleared: %v", got["group_mappings"])
	}
}
