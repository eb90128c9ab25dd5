package configdb

import (
	"encoding/json"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// Masked replaces secrets in MarshalJSONView unless they are asked for.
const Masked = "********"

// jsonView is the human-facing dump of a State.
type jsonView struct {
	Schema      int                  `json:"schema"`
	Generation  uint64               `json:"generation"`
	Users       []iam.User           `json:"users"`
	Groups      []iam.Group          `json:"groups"`
	Providers   []iam.AuthProvider   `json:"auth_providers"`
	Revocations map[string]time.Time `json:"session_revocations"`
}

// MarshalJSONView renders the State as indented JSON for people (e.g.
// `dgp config decrypt`): schema, generation, users, groups, auth providers
// and session revocations. Secret access keys and provider client secrets
// are replaced by Masked unless showSecrets is true. Lists are never null.
func (s *State) MarshalJSONView(showSecrets bool) ([]byte, error) {
	v := jsonView{
		Schema:      s.Schema(),
		Generation:  s.generation,
		Users:       s.Users(),
		Groups:      s.Groups(),
		Providers:   s.Providers(),
		Revocations: s.Revocations(),
	}
	if !showSecrets {
		for i := range v.Users {
			v.Users[i].SecretAccessKey = Masked
		}
		for i := range v.Providers {
			if v.Providers[i].ClientSecret != "" {
				v.Providers[i].ClientSecret = Masked
			}
		}
	}
	return json.MarshalIndent(v, "", "  ")
}
