package configdb

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMarshalJSONView(t *testing.T) {
	s := sample(t).WithGeneration(3)
	masked, err := s.MarshalJSONView(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"alice-secret-0123456789", "bob-secret-0123456789", "client-secret-xyz"} {
		if strings.Contains(string(masked), secret) {
			t.Errorf("masked view contains %q", secret)
		}
	}
	var v struct {
		Schema     int    `json:"schema"`
		Generation uint64 `json:"generation"`
		Users      []struct {
			Name        string `json:"name"`
			AccessKeyID string `json:"access_key_id"`
			Secret      string `json:"secret_access_key"`
		} `json:"users"`
		Providers []struct {
			ClientSecret string `json:"client_secret"`
		} `json:"auth_providers"`
	}
	if err := json.Unmarshal(masked, &v); err != nil {
		t.Fatal(err)
	}
	if v.Schema != CurrentSchema || v.Generation != 3 || len(v.Users) != 3 || v.Users[0].Name != "alice" ||
		v.Users[0].AccessKeyID != "AKIAALICE0000000000A" || v.Users[0].Secret != Masked || v.Providers[0].ClientSecret != Masked {
		t.Errorf("masked view: %+v", v)
	}
	shown, err := s.MarshalJSONView(true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(shown), "alice-secret-0123456789") || !strings.Contains(string(shown), "client-secret-xyz") {
		t.Error("showSecrets view lacks the secrets")
	}
	empty, _ := Empty().MarshalJSONView(false)
	if strings.Contains(string(empty), "null") {
		t.Errorf("empty view has nulls: %s", empty)
	}
	// The view does not alter the state.
	if u, _ := s.User("u-alice"); u.SecretAccessKey != "alice-secret-0123456789" {
		t.Error("masking modified the state")
	}
}
