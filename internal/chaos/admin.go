package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// adminClient calls the admin API of any instance with one session (a
// session is valid on every instance of the fleet, so one login serves
// the whole run and stays clear of the login rate limit).
type adminClient struct {
	http  *http.Client
	token string
}

func newAdminClient() *adminClient {
	return &adminClient{http: &http.Client{Timeout: 15 * time.Second}}
}

func (a *adminClient) login(ctx context.Context, in *Instance) error {
	body, _ := json.Marshal(map[string]string{"password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL()+"/_/api/admin/login", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login on %s: %s %s", in.Node, resp.Status, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "dgp_session" {
			a.token = c.Value
			return nil
		}
	}
	return fmt.Errorf("login on %s: no dgp_session cookie", in.Node)
}

// do calls path (under /_/api/admin) on the instance; body, when not nil,
// is sent as JSON. A transport error (no answer) is returned as err.
func (a *adminClient) do(ctx context.Context, in *Instance, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, in.URL()+"/_/api/admin"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.AddCookie(&http.Cookie{Name: "dgp_session", Value: a.token})
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}
