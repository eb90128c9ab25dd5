package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// userView is a user as the API shows it: lists are never null, the
// secret is configdb.Masked except in the answer that creates it.
type userView struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	AccessKeyID     string     `json:"access_key_id"`
	SecretAccessKey string     `json:"secret_access_key"`
	Enabled         bool       `json:"enabled"`
	CreatedAt       time.Time  `json:"created_at"`
	Permissions     []iam.Rule `json:"permissions"`
	GroupIDs        []string   `json:"group_ids"`
}

func newUserView(u iam.User) userView {
	return userView{
		ID: u.ID, Name: u.Name, AccessKeyID: u.AccessKeyID, SecretAccessKey: configdb.Masked,
		Enabled: u.Enabled, CreatedAt: u.CreatedAt,
		Permissions: nonNil(u.Permissions), GroupIDs: nonNil(u.GroupIDs),
	}
}

// userWithSecret is the one answer that shows a secret access key.
type userWithSecret struct {
	userView
	Note string `json:"note"`
}

const secretNote = "the secret access key is shown only in this answer: store it now"

func withSecret(u iam.User) userWithSecret {
	v := newUserView(u)
	v.SecretAccessKey = u.SecretAccessKey
	return userWithSecret{userView: v, Note: secretNote}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type createUserRequest struct {
	Name        string     `json:"name"`
	Enabled     *bool      `json:"enabled"`
	Permissions []iam.Rule `json:"permissions"`
	GroupIDs    []string   `json:"group_ids"`
}

type updateUserRequest struct {
	Name        *string     `json:"name"`
	Enabled     *bool       `json:"enabled"`
	Permissions *[]iam.Rule `json:"permissions"`
	GroupIDs    *[]string   `json:"group_ids"`
}

// Pagination headers of GET /users: the total number of users matching q,
// and (when more follow) the value of after for the next page.
const (
	headerTotal     = "X-Total-Count"
	headerNextAfter = "X-Next-After"
	maxUsersLimit   = 1000
)

// listUsers answers the users ordered by name. Query parameters (all
// optional): q keeps the users whose name, id or access key id contains it
// (case-insensitive); after keeps the names sorting after it; limit caps
// the page (1..1000; absent: all, as before pagination existed). The
// answer stays a JSON array; X-Total-Count counts the matches of q, and
// X-Next-After, present when more follow, is the after of the next page.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ *principal) error {
	query := r.URL.Query()
	limit := -1
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxUsersLimit {
			return invalid("limit", "must be a whole number from 1 to %d", maxUsersLimit)
		}
		limit = n
	}
	out, total, next := pageUsers(a.iam.Current(),
		strings.ToLower(strings.TrimSpace(query.Get("q"))), query.Get("after"), limit)
	w.Header().Set(headerTotal, strconv.Itoa(total))
	if next != "" {
		w.Header().Set(headerNextAfter, next)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// userRanger ranges over the users in name order without copying them
// (f must neither modify nor keep a user), from the first name after
// after, until f returns false. *configdb.State is one.
type userRanger interface {
	NumUsers() int
	UsersPage(after string, f func(u *iam.User) bool)
}

var _ userRanger = (*configdb.State)(nil)

// pageUsers returns the users of one page (limit < 0: all), the number of
// users matching lowerQ (all when empty), and the name to continue after
// when more follow. Only the page's users are copied.
func pageUsers(src userRanger, lowerQ, after string, limit int) (page []userView, total int, next string) {
	page = make([]userView, 0, max(min(limit, src.NumUsers()), 0))
	full := func() bool { return limit >= 0 && len(page) == limit }
	if lowerQ == "" {
		total = src.NumUsers()
		src.UsersPage(after, func(u *iam.User) bool {
			if full() {
				next = page[len(page)-1].Name
				return false
			}
			page = append(page, newUserView(u.Clone()))
			return true
		})
		return page, total, next
	}
	// A search counts every match, so it ranges over all users.
	src.UsersPage("", func(u *iam.User) bool {
		if !userMatches(u, lowerQ) {
			return true
		}
		total++
		switch {
		case after != "" && u.Name <= after:
		case full():
			if next == "" {
				next = page[len(page)-1].Name
			}
		default:
			page = append(page, newUserView(u.Clone()))
		}
		return true
	})
	return page, total, next
}

// userMatches reports whether lowerQ (lower case) is in u's name, id or
// access key id, ignoring case.
func userMatches(u *iam.User, lowerQ string) bool {
	return containsFold(u.Name, lowerQ) || containsFold(u.ID, lowerQ) || containsFold(u.AccessKeyID, lowerQ)
}

// containsFold reports whether s contains lowerQ ignoring case, without
// allocating (a search visits every user).
func containsFold(s, lowerQ string) bool {
	if lowerQ == "" {
		return true
	}
	first := lowerQ[0]
	for i := 0; i+len(lowerQ) <= len(s); i++ {
		if c := s[i]; first < utf8.RuneSelf && c != first && c+('a'-'A') != first {
			continue // cheap first-byte check (ASCII)
		}
		if strings.EqualFold(s[i:i+len(lowerQ)], lowerQ) {
			return true
		}
	}
	return false
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ *principal) error {
	u, err := a.lookup(r).users().fromPath(r, "id")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserView(u))
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	groupIDs, err := a.lookup(r).groups().ids("group_ids", req.GroupIDs)
	if err != nil {
		return err
	}
	enabled := req.Enabled == nil || *req.Enabled
	op := configdb.NewCreateUser(req.Name, enabled, req.Permissions, groupIDs)
	st, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	u, ok := st.User(op.ID)
	if !ok { // the publisher returned a state without it: answer from the op
		u = iam.User{ID: op.ID, Name: op.Name, AccessKeyID: op.AccessKeyID, SecretAccessKey: op.SecretAccessKey,
			Enabled: op.Enabled, CreatedAt: a.now().UTC(), Permissions: op.Permissions, GroupIDs: op.GroupIDs}
	}
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, withSecret(u))
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	lk := a.lookup(r)
	u, err := lk.users().fromPath(r, "id")
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	op := &configdb.UpdateUser{ID: u.ID, Name: req.Name, Enabled: req.Enabled, Permissions: req.Permissions}
	if req.GroupIDs != nil {
		ids, err := lk.groups().ids("group_ids", *req.GroupIDs)
		if err != nil {
			return err
		}
		ids = nonNil(ids)
		op.GroupIDs = &ids
	}
	next, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	return a.answerUser(w, next, u.ID)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := a.lookup(r).users().fromPath(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.publish(r, p, &configdb.DeleteUser{ID: u.ID}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := a.lookup(r).users().fromPath(r, "id")
	if err != nil {
		return err
	}
	op := configdb.NewRotateKeys(u.ID)
	st, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	if nu, ok := st.User(u.ID); ok {
		u = nu
	}
	u.AccessKeyID, u.SecretAccessKey = op.AccessKeyID, op.SecretAccessKey
	writeJSON(w, http.StatusOK, withSecret(u))
	return nil
}

// answerUser writes user id of st (masked), or 404 when it is gone.
func (a *API) answerUser(w http.ResponseWriter, st *configdb.State, id string) error {
	u, ok := st.User(id)
	if !ok {
		return notFound("user %q not found", id)
	}
	writeJSON(w, http.StatusOK, newUserView(u))
	return nil
}
