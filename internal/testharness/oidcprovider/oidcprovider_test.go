//go:build integration

package oidcprovider

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestCodeFlow signs in through the provider's login form with a plain
// HTTP client and checks what the ID token and userinfo carry.
func TestCodeFlow(t *testing.T) {
	codes := make(chan url.Values, 1)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query()
	}))
	defer rp.Close()
	redirect := rp.URL + "/callback"
	p := New(t, Options{
		Users: []User{{ID: "u-alice", Username: "alice", Password: "pw-alice", Email: "alice@example.com",
			EmailVerified: true, FirstName: "Alice", LastName: "A", Groups: []string{"ops", "dev"}}},
		RedirectURIs: []string{redirect},
	})
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") || !strings.HasSuffix(p.Issuer, "/") {
		t.Fatalf("issuer %q", p.Issuer)
	}
	ctx := context.Background()
	op, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-1", oidc.Nonce("nonce-1"), oauth2.S256ChallengeOption(verifier))

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(authURL) // follows to the login page
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("landed on %s, not the login page", resp.Request.URL)
	}
	resp, err = hc.PostForm(p.Issuer+"login/username", url.Values{"id": {id}, "username": {"alice"}, "password": {"pw-alice"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	q := <-codes
	if q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var idClaims map[string]any
	_ = idt.Claims(&idClaims)
	t.Logf("id token claims: %v", idClaims)
	if idt.Subject != "u-alice" || idt.Nonce != "nonce-1" {
		t.Errorf("sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	if _, has := idClaims["email"]; has {
		t.Errorf("the ID token carries email (the doc says it does not): %v", idClaims)
	}
	if g, _ := idClaims["groups"].([]any); len(g) != 2 {
		t.Errorf("id token groups = %v", idClaims["groups"])
	}
	ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uiClaims map[string]any
	_ = ui.Claims(&uiClaims)
	t.Logf("userinfo claims: %v", uiClaims)
	if ui.Email != "alice@example.com" || !ui.EmailVerified || uiClaims["preferred_username"] != "alice" {
		t.Errorf("userinfo %v", uiClaims)
	}
	g, _ := uiClaims["groups"].([]any)
	if !slices.Equal(g, []any{"ops", "dev"}) {
		t.Errorf("userinfo groups = %v", uiClaims["groups"])
	}

	// A wrong PKCE verifier is refused (the provider enforces PKCE).
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier+"x")); err == nil {
		t.Error("exchange with a wrong verifier (and a used code) succeeded")
	}
}
