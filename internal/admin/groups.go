package admin

import (
	"net/http"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// groupView is a group as the API shows it (lists never null).
type groupView struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Permissions []iam.Rule `json:"permissions"`
	MemberIDs   []string   `json:"member_ids"`
}

func newGroupView(g iam.Group) groupView {
	return groupView{ID: g.ID, Name: g.Name, Description: g.Description,
		Permissions: nonNil(g.Permissions), MemberIDs: nonNil(g.MemberIDs)}
}

type createGroupRequest struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Permissions []iam.Rule `json:"permissions"`
	MemberIDs   []string   `json:"member_ids"`
}

type updateGroupRequest struct {
	Name        *string     `json:"name"`
	Description *string     `json:"description"`
	Permissions *[]iam.Rule `json:"permissions"`
	MemberIDs   *[]string   `json:"member_ids"`
}

type addMemberRequest struct {
	UserID string `json:"user_id"`
}

func (a *API) listGroups(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	groups := a.iam.Current().Groups()
	out := make([]groupView, len(groups))
	for i, g := range groups {
		out[i] = newGroupView(g)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request, _ *principal) error {
	g, err := a.lookup(r).groups().fromPath(r, "id")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newGroupView(g))
	return nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req createGroupRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	members, err := a.lookup(r).users().ids("member_ids", req.MemberIDs)
	if err != nil {
		return err
	}
	op := configdb.NewCreateGroup(req.Name, req.Description, req.Permissions, members)
	st, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	g, ok := st.Group(op.ID)
	if !ok {
		g = iam.Group{ID: op.ID, Name: op.Name, Description: op.Description, Permissions: op.Permissions, MemberIDs: op.MemberIDs}
	}
	w.Header().Set("Location", Prefix+"/groups/"+g.ID)
	writeJSON(w, http.StatusCreated, newGroupView(g))
	return nil
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	lk := a.lookup(r)
	g, err := lk.groups().fromPath(r, "id")
	if err != nil {
		return err
	}
	var req updateGroupRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	op := &configdb.UpdateGroup{ID: g.ID, Name: req.Name, Description: req.Description, Permissions: req.Permissions}
	if req.MemberIDs != nil {
		ids, err := lk.users().ids("member_ids", *req.MemberIDs)
		if err != nil {
			return err
		}
		ids = nonNil(ids)
		op.MemberIDs = &ids
	}
	next, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	return a.answerGroup(w, next, g.ID)
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	g, err := a.lookup(r).groups().fromPath(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.publish(r, p, &configdb.DeleteGroup{ID: g.ID}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	lk := a.lookup(r)
	g, err := lk.groups().fromPath(r, "id")
	if err != nil {
		return err
	}
	var req addMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.UserID == "" {
		return invalid("user_id", "is required")
	}
	u, err := lk.users().find(req.UserID, "")
	if err != nil {
		if ae, ok := err.(*apiError); ok {
			ae.Field = "user_id"
			if ae.Code == "not_found" {
				return invalid("user_id", "user %q does not exist", req.UserID)
			}
		}
		return err
	}
	next, err := a.publish(r, p, &configdb.AddMember{GroupID: g.ID, UserID: u.ID})
	if err != nil {
		return err
	}
	return a.answerGroup(w, next, g.ID)
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	lk := a.lookup(r)
	g, err := lk.groups().fromPath(r, "id")
	if err != nil {
		return err
	}
	u, err := lk.users().fromPath(r, "user_id")
	if err != nil {
		return err
	}
	next, err := a.publish(r, p, &configdb.RemoveMember{GroupID: g.ID, UserID: u.ID})
	if err != nil {
		return err
	}
	return a.answerGroup(w, next, g.ID)
}

// answerGroup writes group id of st, or 404 when it is gone.
func (a *API) answerGroup(w http.ResponseWriter, st *configdb.State, id string) error {
	g, ok := st.Group(id)
	if !ok {
		return notFound("group %q not found", id)
	}
	writeJSON(w, http.StatusOK, newGroupView(g))
	return nil
}
