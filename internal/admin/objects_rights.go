package admin

import (
	"slices"
	"strings"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// objectRights is what an identity may do with objects: the questions the
// S3 gateway asks of its principals (see s3api.Principal and
// s3api.BucketVisibility), answered the same way.
type objectRights interface {
	// Allowed reports whether action is allowed on bucket/key (for
	// ActionList, key is the listing prefix; bucket "" is the bucket list).
	Allowed(action iam.Action, bucket, key string) bool
	// BucketVisible reports whether bucket appears in the bucket list.
	BucketVisible(bucket string) bool
}

// rootRights are the bootstrap admin's: everything, as the S3 root
// credentials.
type rootRights struct{}

func (rootRights) Allowed(iam.Action, string, string) bool { return true }
func (rootRights) BucketVisible(string) bool               { return true }

// noRights refuse everything (an identity that vanished between the
// session check and the request).
type noRights struct{}

func (noRights) Allowed(iam.Action, string, string) bool { return false }
func (noRights) BucketVisible(string) bool               { return false }

var (
	_ objectRights = rootRights{}
	_ objectRights = noRights{}
	_ objectRights = (*iam.CompiledUser)(nil)
)

// rightsOf returns what p may do with objects in st, and the rules its
// rights come from (nil for the bootstrap admin: it needs none):
//
//   - the bootstrap admin acts as the S3 root credentials: everything;
//   - a user session acts as that IAM user's access key would on the S3
//     API: the same compiled rules (its own and its groups'), looked up
//     as the gateway does (State.Lookup), so a disabled user may nothing;
//   - an OIDC session acts with the rules of the groups its provider's
//     mapping gave it (claims.Groups, dgp group ids), compiled as a user
//     holding those groups; a group deleted since grants nothing.
//
// In every case Deny beats Allow and no matching Allow means refused
// (iam.CompiledUser.Allowed).
func rightsOf(st *configdb.State, p *principal) (objectRights, []iam.Rule) {
	switch {
	case p.Identity == identityAdmin:
		return rootRights{}, nil
	case strings.HasPrefix(p.Identity, identityUserPrefix):
		u, ok := st.User(strings.TrimPrefix(p.Identity, identityUserPrefix))
		if !ok {
			return noRights{}, nil
		}
		cu, ok := st.Lookup(u.AccessKeyID)
		if !ok || cu.ID() != u.ID {
			return noRights{}, nil
		}
		return cu, rulesOf(st, u.Permissions, u.GroupIDs)
	case strings.HasPrefix(p.Identity, identityOIDCPrefix):
		return oidcRights(st, p)
	}
	return noRights{}, nil
}

// oidcRights compiles the rules of the OIDC session's groups.
func oidcRights(st *configdb.State, p *principal) (objectRights, []iam.Rule) {
	groups := make(map[string]*iam.CompiledGroup, len(p.Groups))
	ids := make([]string, 0, len(p.Groups))
	for _, id := range p.Groups {
		if _, dup := groups[id]; dup {
			continue
		}
		g, ok := st.Group(id)
		if !ok {
			continue
		}
		cg, err := iam.CompileGroup(g)
		if err != nil { // stored groups are valid: never happens
			return noRights{}, nil
		}
		groups[id] = cg
		ids = append(ids, id)
	}
	cu, err := iam.CompileUser(iam.User{ID: p.Identity, Name: p.Name, Enabled: true, GroupIDs: ids}, groups)
	if err != nil {
		return noRights{}, nil
	}
	return cu, rulesOf(st, nil, ids)
}

// rulesOf returns own followed by the rules of the groups that exist.
func rulesOf(st *configdb.State, own []iam.Rule, groupIDs []string) []iam.Rule {
	rules := slices.Clone(own)
	for _, id := range groupIDs {
		if g, ok := st.Group(id); ok {
			rules = append(rules, g.Permissions...)
		}
	}
	return rules
}

// listStarts returns, for an identity that may not list bucket from its
// root, the prefixes of bucket its Allow rules let it list ("team/" for a
// rule on "bucket/team/*"), each confirmed by rights: where a browser can
// start. Sorted, without duplicates.
func listStarts(rights objectRights, rules []iam.Rule, bucket string) []string {
	var out []string
	for _, r := range rules {
		if r.Effect != iam.EffectAllow ||
			!(slices.Contains(r.Actions, iam.ActionList) || slices.Contains(r.Actions, iam.ActionAll)) {
			continue
		}
		for _, res := range r.Resources {
			rest, ok := strings.CutPrefix(res, bucket+"/")
			if !ok {
				continue
			}
			prefix := strings.TrimSuffix(rest, "*")
			if strings.Contains(prefix, "*") {
				continue
			}
			if rest == prefix { // one object: start at its "folder"
				prefix = prefix[:strings.LastIndexByte(prefix, '/')+1]
			}
			if rights.Allowed(iam.ActionList, bucket, prefix) && !slices.Contains(out, prefix) {
				out = append(out, prefix)
			}
		}
	}
	slices.Sort(out)
	return out
}
