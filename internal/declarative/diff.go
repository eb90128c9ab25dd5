package declarative

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// Kinds of entities in a Change.
const (
	KindGroup    = "group"
	KindUser     = "user"
	KindProvider = "auth provider"
)

// Actions of a Change.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Change is what happens to one entity, identified by kind and name.
type Change struct {
	Kind   string // KindGroup, KindUser or KindProvider
	Name   string
	Action string // ActionCreate, ActionUpdate or ActionDelete
	// Fields lists what an update changes (empty for creations and
	// deletions).
	Fields []FieldChange
}

// FieldChange is one changed field of an updated entity. Old and New are
// display values; for a secret both are empty and Secret is true, so that
// no secret ever reaches a plan or a log.
type FieldChange struct {
	Field  string
	Old    string
	New    string
	Secret bool
}

// String renders "field: old -> new", or "field: secret changed".
func (f FieldChange) String() string {
	if f.Secret {
		return f.Field + ": secret changed"
	}
	return f.Field + ": " + f.Old + " -> " + f.New
}

// Plan is the difference between two States by name: groups, then users,
// then auth providers, each ordered by name. It holds no secrets.
type Plan struct {
	Changes []Change
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// Names returns the names of the entities of kind that action applies to,
// in order (for log fields).
func (p Plan) Names(kind, action string) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Kind == kind && c.Action == action {
			out = append(out, c.Name)
		}
	}
	return out
}

// Count returns how many changes have the given action.
func (p Plan) Count(action string) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == action {
			n++
		}
	}
	return n
}

// Write renders the plan for people, one entity per line with its field
// changes indented below, and a summary line.
func (p Plan) Write(w io.Writer) error {
	var b strings.Builder
	if p.Empty() {
		b.WriteString("No changes: the config db already matches the declared IAM.\n")
	}
	for _, c := range p.Changes {
		sign := map[string]string{ActionCreate: "+", ActionUpdate: "~", ActionDelete: "-"}[c.Action]
		fmt.Fprintf(&b, "%s %s %s: %s\n", sign, c.Kind, strconv.Quote(c.Name), c.Action)
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "    %s\n", f)
		}
	}
	if !p.Empty() {
		fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d to delete.\n",
			p.Count(ActionCreate), p.Count(ActionUpdate), p.Count(ActionDelete))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Diff compares two States by name: entities only in next are created,
// only in prev deleted, in both with different fields updated. Ids,
// creation times and session revocations are not compared; group
// membership is compared by group name on the user.
func Diff(prev, next *configdb.State) Plan {
	var p Plan
	p.Changes = append(p.Changes, diffKind(KindGroup, prev.Groups(), next.Groups(),
		func(g iam.Group) string { return g.Name }, groupFields)...)
	pu := func(u iam.User) userView { return viewUser(prev, u) }
	nu := func(u iam.User) userView { return viewUser(next, u) }
	p.Changes = append(p.Changes, diffKind(KindUser, mapAll(prev.Users(), pu), mapAll(next.Users(), nu),
		func(u userView) string { return u.Name }, userFields)...)
	pp := func(pr iam.AuthProvider) providerView { return viewProvider(prev, pr) }
	np := func(pr iam.AuthProvider) providerView { return viewProvider(next, pr) }
	p.Changes = append(p.Changes, diffKind(KindProvider, mapAll(prev.Providers(), pp), mapAll(next.Providers(), np),
		func(pr providerView) string { return pr.Name }, providerFields)...)
	return p
}

// providerView is a provider with the groups of its mapping rules by
// name.
type providerView struct {
	iam.AuthProvider
}

func viewProvider(s *configdb.State, p iam.AuthProvider) providerView {
	for i := range p.GroupMappings {
		names := make([]string, 0, len(p.GroupMappings[i].Groups))
		for _, id := range p.GroupMappings[i].Groups {
			if g, ok := s.Group(id); ok {
				names = append(names, g.Name)
			}
		}
		p.GroupMappings[i].Groups = names
	}
	return providerView{AuthProvider: p}
}

// userView is a user with its groups by name.
type userView struct {
	iam.User
	groups []string
}

func viewUser(s *configdb.State, u iam.User) userView {
	v := userView{User: u}
	for _, id := range u.GroupIDs {
		if g, ok := s.Group(id); ok {
			v.groups = append(v.groups, g.Name)
		}
	}
	slices.Sort(v.groups)
	return v
}

func mapAll[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// diffKind compares two lists of one kind by name.
func diffKind[T any](kind string, prev, next []T, name func(T) string, fields func(a, b T) []FieldChange) []Change {
	old := make(map[string]T, len(prev))
	for _, v := range prev {
		old[name(v)] = v
	}
	var out []Change
	seen := make(map[string]bool, len(next))
	for _, v := range next {
		n := name(v)
		seen[n] = true
		o, ok := old[n]
		if !ok {
			out = append(out, Change{Kind: kind, Name: n, Action: ActionCreate})
			continue
		}
		if f := fields(o, v); len(f) > 0 {
			out = append(out, Change{Kind: kind, Name: n, Action: ActionUpdate, Fields: f})
		}
	}
	for _, v := range prev {
		if n := name(v); !seen[n] {
			out = append(out, Change{Kind: kind, Name: n, Action: ActionDelete})
		}
	}
	slices.SortStableFunc(out, func(a, b Change) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// fieldDiff accumulates field changes.
type fieldDiff []FieldChange

func (d *fieldDiff) str(field, a, b string) {
	if a != b {
		*d = append(*d, FieldChange{Field: field, Old: quote(a), New: quote(b)})
	}
}

func (d *fieldDiff) secret(field, a, b string) {
	if a != b {
		*d = append(*d, FieldChange{Field: field, Secret: true})
	}
}

func (d *fieldDiff) bool(field string, a, b bool) {
	if a != b {
		*d = append(*d, FieldChange{Field: field, Old: strconv.FormatBool(a), New: strconv.FormatBool(b)})
	}
}

func (d *fieldDiff) list(field string, a, b []string) {
	if !slices.Equal(a, b) {
		*d = append(*d, FieldChange{Field: field, Old: listString(a), New: listString(b)})
	}
}

func (d *fieldDiff) rules(a, b []iam.Rule) {
	as, bs := rulesString(a), rulesString(b)
	if as != bs {
		*d = append(*d, FieldChange{Field: "permissions", Old: as, New: bs})
	}
}

func groupFields(a, b iam.Group) []FieldChange {
	var d fieldDiff
	d.str("description", a.Description, b.Description)
	d.rules(a.Permissions, b.Permissions)
	return d
}

func userFields(a, b userView) []FieldChange {
	var d fieldDiff
	d.str("access_key_id", a.AccessKeyID, b.AccessKeyID)
	d.secret("secret_access_key", a.SecretAccessKey, b.SecretAccessKey)
	d.bool("enabled", a.Enabled, b.Enabled)
	d.list("groups", a.groups, b.groups)
	d.rules(a.Permissions, b.Permissions)
	return d
}

func providerFields(a, b providerView) []FieldChange {
	var d fieldDiff
	d.str("type", a.Type, b.Type)
	d.str("issuer_url", a.IssuerURL, b.IssuerURL)
	d.str("client_id", a.ClientID, b.ClientID)
	d.secret("client_secret", a.ClientSecret, b.ClientSecret)
	d.list("scopes", a.Scopes, b.Scopes)
	d.bool("enabled", a.Enabled, b.Enabled)
	if a.Priority != b.Priority {
		d = append(d, FieldChange{Field: "priority", Old: strconv.Itoa(a.Priority), New: strconv.Itoa(b.Priority)})
	}
	d.str("display_name", a.DisplayName, b.DisplayName)
	d.str("redirect_url", a.RedirectURL, b.RedirectURL)
	if as, bs := mappingsString(a.GroupMappings), mappingsString(b.GroupMappings); as != bs {
		d = append(d, FieldChange{Field: "group_mappings", Old: as, New: bs})
	}
	return d
}

// mappingsString renders group mapping rules compactly and in order:
// [email "*@example.com" -> ["ops"]; claim "groups" = "x" -> ["a", "b"]].
func mappingsString(ms []iam.GroupMapping) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		switch {
		case m.Email != "":
			parts[i] = "email " + quote(m.Email)
		case m.Regex != "":
			parts[i] = "claim " + quote(m.Claim) + " ~ " + quote(m.Regex)
		default:
			parts[i] = "claim " + quote(m.Claim) + " = " + quote(m.Value)
		}
		parts[i] += " -> " + listString(m.Groups)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func quote(s string) string { return strconv.Quote(s) }

func listString(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// rulesString renders rules compactly and in order:
// [Allow read,list on "b/*"; Deny delete on "b/x"].
func rulesString(rules []iam.Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		acts := make([]string, len(r.Actions))
		for j, a := range r.Actions {
			acts[j] = string(a)
		}
		res := make([]string, len(r.Resources))
		for j, s := range r.Resources {
			res[j] = strconv.Quote(s)
		}
		parts[i] = fmt.Sprintf("%s %s on %s", r.Effect, strings.Join(acts, ","), strings.Join(res, ","))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
