// Command oidc-provider is a small OpenID Connect provider for dgp's tests:
// the example provider of github.com/zitadel/oidc (its exampleop server and
// in-memory storage) with the users of a JSON file, one confidential web
// client, and a "groups" claim. It listens on 127.0.0.1 only; its issuer is
// http://127.0.0.1:<port>/.
//
//	oidc-provider -users users.json -client-id dgp -client-secret s \
//	    -redirect-uri http://127.0.0.1:8000/_/api/admin/oidc/callback -ready-file ready
//
// The users file is oidcprovider.UsersFile as JSON. When ready (listening)
// it writes the issuer URL into the ready file. Redirect URIs may also come
// from $OIDC_PROVIDER_REDIRECT_URIS (comma-separated). It is a test
// program: plain-text passwords, one process-lifetime signing key.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dgp-proxy/dgp/internal/testharness/oidcprovider"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "oidc-provider:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr         = flag.String("addr", "127.0.0.1:0", "listen address (host must be 127.0.0.1)")
		usersFile    = flag.String("users", "", "users JSON file (required)")
		clientID     = flag.String("client-id", "dgp", "the web client's id")
		clientSecret = flag.String("client-secret", "dgp-test-secret", "the web client's secret")
		readyFile    = flag.String("ready-file", "", "file the issuer URL is written to once listening")
		redirects    stringList
	)
	flag.Var(&redirects, "redirect-uri", "an allowed redirect URI (repeatable)")
	flag.Parse()
	if env := os.Getenv("OIDC_PROVIDER_REDIRECT_URIS"); env != "" {
		for _, u := range strings.Split(env, ",") {
			if u = strings.TrimSpace(u); u != "" {
				redirects = append(redirects, u)
			}
		}
	}
	if *usersFile == "" || len(redirects) == 0 {
		return errors.New("-users and at least one -redirect-uri are required")
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || host != "127.0.0.1" {
		return fmt.Errorf("-addr %q: must be 127.0.0.1:<port>", *addr)
	}
	uf, err := oidcprovider.ReadUsersFile(*usersFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	issuer := fmt.Sprintf("http://%s/", ln.Addr().String())
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	users := newUserStore(uf)
	clients := map[string]*storage.Client{*clientID: storage.WebClient(*clientID, *clientSecret, redirects...)}
	st := &groupStorage{Storage: storage.NewStorageWithClients(users, clients), groups: users.groups}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, logger, false), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // waited for below
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(issuer), 0o600); err != nil {
			_ = srv.Close()
			<-errc
			return err
		}
	}
	logger.Info("oidc provider listening", "issuer", issuer, "users", len(uf.Users), "client_id", *clientID)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// userStore is storage.UserStore over the users file.
type userStore struct {
	byID   map[string]*storage.User
	groups map[string][]string // by user id
}

func newUserStore(uf oidcprovider.UsersFile) *userStore {
	s := &userStore{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, u := range uf.Users {
		s.byID[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.FirstName,
			LastName: u.LastName, Email: u.Email, EmailVerified: u.EmailVerified}
		s.groups[u.ID] = u.Groups
	}
	return s
}

func (s *userStore) GetUserByID(id string) *storage.User { return s.byID[id] }

func (s *userStore) GetUserByUsername(name string) *storage.User {
	for _, u := range s.byID {
		if u.Username == name {
			return u
		}
	}
	return nil
}

func (s *userStore) ExampleClientID() string { return storage.ServiceUserID }

// groupStorage adds a "groups" claim (the user's groups of the users file,
// when it has any) to the ID token and to the userinfo answer.
type groupStorage struct {
	*storage.Storage
	groups map[string][]string
}

var _ exampleop.Storage = (*groupStorage)(nil)

func (s *groupStorage) addGroups(ui *oidc.UserInfo, userID string) {
	if g := s.groups[userID]; len(g) > 0 {
		ui.AppendClaims("groups", g)
	}
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	s.addGroups(ui, req.GetSubject())
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(ui, subject)
	return nil
}
