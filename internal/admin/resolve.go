package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// Operators type names; APIs use ids. A reference is resolved as an id
// first, then as a name. When it is the id of one entity and the name of
// another, it is ambiguous (409) unless the query says ?by=id or ?by=name.

// finder looks entities of one kind up by id and by name in a snapshot.
// When fresh is set, a reference found in neither is looked up once more
// in the snapshot fresh returns (after a pull), so an entity created on
// another instance a moment ago is found.
type finder[T any] struct {
	kind   string // "user", "group", "auth provider"
	st     *configdb.State
	byID   func(*configdb.State, string) (T, bool)
	byName func(*configdb.State, string) (T, bool)
	id     func(T) string
	fresh  func() *configdb.State // nil: no pull
}

func userFinder(st *configdb.State) finder[iam.User] {
	return finder[iam.User]{kind: "user", st: st, byID: (*configdb.State).User, byName: (*configdb.State).UserByName,
		id: func(u iam.User) string { return u.ID }}
}

func groupFinder(st *configdb.State) finder[iam.Group] {
	return finder[iam.Group]{kind: "group", st: st, byID: (*configdb.State).Group, byName: (*configdb.State).GroupByName,
		id: func(g iam.Group) string { return g.ID }}
}

func providerFinder(st *configdb.State) finder[iam.AuthProvider] {
	return finder[iam.AuthProvider]{kind: "auth provider", st: st, byID: (*configdb.State).Provider,
		byName: (*configdb.State).ProviderByName, id: func(p iam.AuthProvider) string { return p.ID }}
}

// lookup is the references of one request: the snapshot current when it
// began, and a pull shared by every miss of the request (see refresh.go).
type lookup struct {
	st    *configdb.State
	fresh func() *configdb.State
}

// lookup starts the references of request r.
func (a *API) lookup(r *http.Request) *lookup {
	return &lookup{st: a.iam.Current(), fresh: a.freshState(r)}
}

func (l *lookup) users() finder[iam.User] {
	f := userFinder(l.st)
	f.fresh = l.fresh
	return f
}

func (l *lookup) groups() finder[iam.Group] {
	f := groupFinder(l.st)
	f.fresh = l.fresh
	return f
}

func (l *lookup) providers() finder[iam.AuthProvider] {
	f := providerFinder(l.st)
	f.fresh = l.fresh
	return f
}

// find resolves ref by the mode "" (id, else name), "id" or "name"; a
// miss pulls once (fresh) and looks again before answering 404.
func (f finder[T]) find(ref, by string) (T, error) {
	v, err := f.findIn(f.st, ref, by)
	var ae *apiError
	if err != nil && f.fresh != nil && errors.As(err, &ae) && ae.Code == "not_found" {
		if st := f.fresh(); st != nil && st != f.st {
			return f.findIn(st, ref, by)
		}
	}
	return v, err
}

// findIn resolves ref in st.
func (f finder[T]) findIn(st *configdb.State, ref, by string) (T, error) {
	var zero T
	switch by {
	case "id":
		if v, ok := f.byID(st, ref); ok {
			return v, nil
		}
	case "name":
		if v, ok := f.byName(st, ref); ok {
			return v, nil
		}
	case "":
		vi, okID := f.byID(st, ref)
		vn, okName := f.byName(st, ref)
		switch {
		case okID && okName && f.id(vi) != f.id(vn):
			return zero, &apiError{Status: http.StatusConflict, Code: "ambiguous",
				Message: ref + " is the id of one " + f.kind + " and the name of another: add ?by=id or ?by=name"}
		case okID:
			return vi, nil
		case okName:
			return vn, nil
		}
	default:
		return zero, invalid("by", "must be id or name, not %q", by)
	}
	return zero, notFound("%s %q not found", f.kind, ref)
}

// fromPath resolves the path value name of r (mode from ?by=).
func (f finder[T]) fromPath(r *http.Request, name string) (T, error) {
	return f.find(r.PathValue(name), r.URL.Query().Get("by"))
}

// ids resolves references in a request body to ids: names become ids;
// unknown references are kept as they are, for the operation to report
// with the field named. An ambiguous one is refused, naming the field.
func (f finder[T]) ids(field string, refs []string) ([]string, error) {
	if refs == nil {
		return nil, nil
	}
	out := make([]string, len(refs))
	for i, ref := range refs {
		id, err := f.ref(field+"["+strconv.Itoa(i)+"]", ref)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// ref resolves one body reference in field like ids does.
func (f finder[T]) ref(field, ref string) (string, error) {
	v, err := f.find(ref, "")
	var ae *apiError
	switch {
	case err == nil:
		return f.id(v), nil
	case errors.As(err, &ae) && ae.Code == "ambiguous":
		ae.Field = field
		return "", ae
	}
	return ref, nil
}
