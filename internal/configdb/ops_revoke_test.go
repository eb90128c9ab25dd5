package configdb

import (
	"maps"
	"testing"
	"time"
)

func TestRevokeSessionsMore(t *testing.T) {
	s := sample(t) // u-bob revoked since t0
	since := t0.Add(time.Hour)
	n := mustApply(t, s, &RevokeSessions{Identity: "user:a", More: []string{"user:b", "u-bob"}, Since: since})
	want := map[string]time.Time{"user:a": since, "user:b": since, "u-bob": since}
	if got := n.Revocations(); !maps.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("revocations %v, want %v", got, want)
	}
	// Every identity already revoked at that time or later: nothing changes.
	if same := mustApply(t, n, &RevokeSessions{Identity: "user:b", More: []string{"u-bob"}, Since: t0}); same != n {
		t.Fatal("a revocation recording nothing new changed the state")
	}
	_, err := (&RevokeSessions{Identity: "user:a", More: []string{"ok", ""}}).Apply(s, t0)
	wantField(t, err, "more[1]")
}

func TestRevokeSessionsPrunes(t *testing.T) {
	const retain = 4*time.Hour + 5*time.Minute
	s := Empty()
	for id, at := range map[string]time.Time{
		"session:old":    t0.Add(-retain - time.Second), // its sessions are all expired
		"session:edge":   t0.Add(-retain),               // exactly at the cutoff: kept
		"session:recent": t0.Add(-time.Hour),
		"admin":          t0.Add(-24 * time.Hour),
		"future":         t0.Add(time.Hour), // from an instance whose clock is ahead
	} {
		s = mustApply(t, s, &RevokeSessions{Identity: id, Since: at})
	}
	if len(s.Revocations()) != 5 {
		t.Fatalf("setup: %v", s.Revocations())
	}

	// Without Retain nothing is pruned.
	n := mustApply(t, s, &RevokeSessions{Identity: "session:new"})
	if len(n.Revocations()) != 6 {
		t.Fatalf("pruned without Retain: %v", n.Revocations())
	}

	n = mustApply(t, s, &RevokeSessions{Identity: "session:new", Retain: retain})
	want := map[string]time.Time{
		"session:edge":   t0.Add(-retain),
		"session:recent": t0.Add(-time.Hour),
		"future":         t0.Add(time.Hour),
		"session:new":    t0,
	}
	if got := n.Revocations(); !maps.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("after pruning: %v, want %v", got, want)
	}
	if got := s.Revocations(); len(got) != 5 {
		t.Fatalf("the base was modified: %v", got)
	}

	// A revocation that records nothing new prunes nothing (no publish).
	if same := mustApply(t, s, &RevokeSessions{Identity: "future", Since: t0, Retain: retain}); same != s {
		t.Fatal("a no-op revocation changed the state to prune")
	}

	// A revocation older than the cutoff is dropped with the rest: it
	// could match no valid session.
	n = mustApply(t, s, &RevokeSessions{Identity: "ancient", Since: t0.Add(-48 * time.Hour), Retain: retain})
	if _, ok := n.RevokedSince("ancient"); ok {
		t.Fatal("an already expired revocation was kept")
	}
	if _, ok := n.RevokedSince("session:old"); ok {
		t.Fatal("session:old not pruned")
	}
}

func TestRevokeSessionsDescribe(t *testing.T) {
	for _, tc := range []struct {
		op   RevokeSessions
		want string
	}{
		{RevokeSessions{Identity: "admin"}, `revoke sessions of "admin"`},
		{RevokeSessions{Identity: "user:a", More: []string{"user:b"}, Since: t0}, `revoke sessions of "user:a" and 1 more since 2026-01-02T03:04:05Z`},
	} {
		if got := tc.op.Describe(); got != tc.want {
			t.Errorf("Describe = %q, want %q", got, tc.want)
		}
	}
}
