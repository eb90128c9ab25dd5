package configdb

import (
	"maps"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// userIndexOn indexes users (a State's, sorted by name) by updating the
// user maps of base instead of building them anew: a pulled DB mostly
// differs from the held one by a user or two, while the positions of all
// the users after them shift. Only the users between the longest common
// prefix and suffix of the two lists (same id, name and access key at the
// same place) are removed and added; the suffix's positions are moved.
// It reports false, leaving x unset, when a user added collides with
// another: the full index then reports the duplicate as it does.
func userIndexOn(x *indexes, users []iam.User, base *State) bool {
	old := base.users
	n := min(len(users), len(old))
	p := 0
	for p < n && sameKeys(&users[p], &old[p]) {
		p++
	}
	q := 0
	for q < n-p && sameKeys(&users[len(users)-1-q], &old[len(old)-1-q]) {
		q++
	}
	byID, byName, byKey := maps.Clone(base.userByID), maps.Clone(base.userByName), maps.Clone(base.userByKey)
	for i := p; i < len(old)-q; i++ {
		delete(byID, old[i].ID)
		delete(byName, old[i].Name)
		delete(byKey, old[i].AccessKeyID)
	}
	for i := p; i < len(users)-q; i++ {
		u := &users[i]
		_, dupID := byID[u.ID]
		_, dupName := byName[u.Name]
		_, dupKey := byKey[u.AccessKeyID]
		if dupID || dupName || dupKey {
			return false
		}
		byID[u.ID], byName[u.Name], byKey[u.AccessKeyID] = i, i, i
	}
	if len(users) != len(old) {
		for i := len(users) - q; i < len(users); i++ {
			u := &users[i]
			byID[u.ID], byName[u.Name], byKey[u.AccessKeyID] = i, i, i
		}
	}
	x.userByID, x.userByName, x.userByKey = byID, byName, byKey
	return true
}

// sameKeys reports whether a and b have the same id, name and access key.
func sameKeys(a, b *iam.User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.AccessKeyID == b.AccessKeyID
}

// sameIDsAndNames reports whether a and b hold the same ids and names at
// the same positions.
func sameIDsAndNames[T any](a, b []T, keys func(*T) (id, name string)) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ai, an := keys(&a[i])
		bi, bn := keys(&b[i])
		if ai != bi || an != bn {
			return false
		}
	}
	return true
}

func groupKeys(g *iam.Group) (string, string)           { return g.ID, g.Name }
func providerKeys(p *iam.AuthProvider) (string, string) { return p.ID, p.Name }
