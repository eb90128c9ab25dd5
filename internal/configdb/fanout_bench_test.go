package configdb

import (
	"path/filepath"
	"testing"
)

// sealed100 returns a 100-user DB (users in 20 groups) sealed with a warm
// key cache, and that cache.
func sealed100(b *testing.B) ([]byte, *KeyCache, *State) {
	b.Helper()
	s := bigState(b, 100)
	keys := NewKeyCache(4)
	sealed, err := Seal(s, SealOptions{WriterNode: "bench"}, keys, testSecret)
	if err != nil {
		b.Fatal(err)
	}
	return sealed, keys, s
}

// BenchmarkOpen100 opens a 100-user DB from scratch (no base): what a
// reader paid per pull before OpenOn.
func BenchmarkOpen100(b *testing.B) {
	sealed, keys, _ := sealed100(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Open(sealed, keys, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFile100 is the local write of a 100-user DB (with its two
// fsyncs).
func BenchmarkWriteFile100(b *testing.B) {
	sealed, _, _ := sealed100(b)
	path := filepath.Join(b.TempDir(), "config.db")
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteFile(path, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// nextOf100 returns a held 100-user state and the sealed DB that adds one
// user to it.
func nextOf100(b *testing.B) (held *State, sealed []byte, keys *KeyCache) {
	first, keys, _ := sealed100(b)
	held, _, err := Open(first, keys, testSecret)
	if err != nil {
		b.Fatal(err)
	}
	next, err := NewCreateUser("fresh", true, allowAll("x/*"), nil).Apply(held, t0)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err = Seal(next.WithGeneration(2), SealOptions{WriterNode: "bench"}, keys, testSecret)
	if err != nil {
		b.Fatal(err)
	}
	return held, sealed, keys
}

// BenchmarkOpenOn100 opens a 100-user DB that adds one user to the held
// one (a reader's pull after an IAM change).
func BenchmarkOpenOn100(b *testing.B) {
	held, sealed, keys := nextOf100(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := OpenOn(sealed, keys, testSecret, held); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenerOpenOn100 is BenchmarkOpenOn100 through an Opener (the
// decryption buffer kept from one pull to the next).
func BenchmarkOpenerOpenOn100(b *testing.B) {
	held, sealed, keys := nextOf100(b)
	var o Opener
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := o.OpenOn(sealed, keys, testSecret, held); err != nil {
			b.Fatal(err)
		}
	}
}
