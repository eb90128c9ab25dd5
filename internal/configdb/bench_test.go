package configdb

import (
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// bigState returns a State holding testutil.BigIAM(n, 20): n users in 20 groups.
func bigState(tb testing.TB, n int) *State {
	tb.Helper()
	users, groups := testutil.BigIAM(n, 20)
	s, err := NewState(1, Data{Users: users, Groups: groups})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func BenchmarkSeal10k(b *testing.B) {
	s := bigState(b, 10_000)
	keys := NewKeyCache(4)
	first, err := Seal(s, SealOptions{WriterNode: "bench"}, keys, testSecret) // warms the key cache
	if err != nil {
		b.Fatal(err)
	}
	prev, _ := ReadHeader(first)
	b.SetBytes(int64(len(first)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(s, SealOptions{WriterNode: "bench", Prev: &prev}, keys, testSecret); err != nil {
			b.Fatal(err)
		}
	}
	if keys.Derivations() != 1 {
		b.Fatalf("derivations = %d: key derivation leaked into the loop", keys.Derivations())
	}
}

func BenchmarkOpen10k(b *testing.B) {
	s := bigState(b, 10_000)
	keys := NewKeyCache(4)
	sealed, err := Seal(s, SealOptions{WriterNode: "bench"}, keys, testSecret) // warms the key cache
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(sealed)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Open(sealed, keys, testSecret); err != nil {
			b.Fatal(err)
		}
	}
	if keys.Derivations() != 1 {
		b.Fatalf("derivations = %d: key derivation leaked into the loop", keys.Derivations())
	}
}

func BenchmarkKeyDerivation(b *testing.B) {
	var salt [SaltSize]byte
	p := DefaultKDFParams()
	b.ReportMetric(float64(p.MemoryKiB)/1024, "MiB")
	for b.Loop() {
		deriveKey(testSecret, salt, p)
	}
}

// BenchmarkApply10k is the cost of one mutation (and of one rebase) on a
// 10,000-user State: copy, validate, compile.
func BenchmarkApply10k(b *testing.B) {
	s := bigState(b, 10_000)
	op := &UpdateUser{ID: "u000042", Enabled: ptr(false)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := op.Apply(s, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyGroupRules10k changes the rules of one group of a
// 10,000-user State: its 500 members are compiled again, the other users
// are shared with the base.
func BenchmarkApplyGroupRules10k(b *testing.B) {
	s := bigState(b, 10_000)
	op := &UpdateGroup{ID: "g07", Permissions: ptr([]iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"elsewhere/*"}}})}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := op.Apply(s, t0); err != nil {
			b.Fatal(err)
		}
	}
}
