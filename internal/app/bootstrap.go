package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

const bootstrapPasswordFile = "bootstrap-password"

// Bootstrap is the fleet's shared bootstrap secret: it unlocks the admin
// API (login) and is the key material of the config DB and of session
// tokens. Every instance of a fleet must have the same one.
type Bootstrap struct {
	// Secret is what the DB key and the session key derive from: the
	// password, or the bcrypt hash string when only the hash is configured.
	Secret []byte
	check  func(string) bool
}

// CheckPassword reports whether pw is the bootstrap password (constant time).
func (b *Bootstrap) CheckPassword(pw string) bool { return b.check(pw) }

// SessionKey is the HMAC key for admin session tokens: derived from the
// secret, so a session made on one instance is valid on every instance.
func (b *Bootstrap) SessionKey() []byte {
	m := hmac.New(sha256.New, b.Secret)
	m.Write([]byte("dgp admin session key v1"))
	return m.Sum(nil)
}

// LoadBootstrap returns the bootstrap secret the configuration names (the
// password or its bcrypt hash), else the one kept in the data dir; it never
// generates one. Tools such as `dgp config decrypt` use it.
func LoadBootstrap(cfg *config.Config) (*Bootstrap, error) {
	a := cfg.Access
	if a.BootstrapPassword == "" && a.BootstrapPasswordHash == "" {
		if _, err := os.Stat(filepath.Join(cfg.Advanced.DataDir, bootstrapPasswordFile)); err != nil {
			return nil, errors.New("no bootstrap secret: set DGP_BOOTSTRAP_PASSWORD (or DGP_BOOTSTRAP_PASSWORD_HASH), or point DGP_DATA_DIR at the instance's data dir")
		}
	}
	return loadBootstrap(cfg.Advanced.DataDir, a.BootstrapPassword, a.BootstrapPasswordHash, true, io.Discard)
}

// loadBootstrap returns the configured bootstrap secret (password or its
// bcrypt hash), or the one kept in the data dir, or generates one, prints
// it once on w and keeps it (0600). Generating is refused when the instance
// is part of a fleet (sync on): a generated secret cannot be shared.
func loadBootstrap(dataDir, password, hash string, fleet bool, w io.Writer) (*Bootstrap, error) {
	switch {
	case password != "":
		return passwordBootstrap(password), nil
	case hash != "":
		h := []byte(hash)
		if _, err := bcrypt.Cost(h); err != nil {
			return nil, fmt.Errorf("DGP_BOOTSTRAP_PASSWORD_HASH is not a bcrypt hash: %w", err)
		}
		return &Bootstrap{Secret: h, check: func(pw string) bool {
			return bcrypt.CompareHashAndPassword(h, []byte(pw)) == nil
		}}, nil
	}
	path := filepath.Join(dataDir, bootstrapPasswordFile)
	b, err := os.ReadFile(path)
	if err == nil {
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return nil, fmt.Errorf("bootstrap password file %s is empty", path)
		}
		return passwordBootstrap(pw), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read bootstrap password: %w", err)
	}
	if fleet {
		return nil, errors.New("advanced.config_sync_bucket is set but no bootstrap password is: every instance of a fleet must share one; set DGP_BOOTSTRAP_PASSWORD (or DGP_BOOTSTRAP_PASSWORD_HASH)")
	}
	pw := iam.NewID() + iam.NewID()
	if err := configdb.WriteFile(path, []byte(pw+"\n")); err != nil {
		return nil, fmt.Errorf("keep bootstrap password: %w", err)
	}
	fmt.Fprintf(w, "\n"+
		"dgp: no bootstrap password was configured, so one was generated. It unlocks the admin API\n"+
		"     and encrypts the config DB. It is shown this once and kept (mode 0600) in %s:\n\n"+
		"     DGP_BOOTSTRAP_PASSWORD=%s\n\n", path, pw)
	return passwordBootstrap(pw), nil
}

func passwordBootstrap(pw string) *Bootstrap {
	want := sha256.Sum256([]byte(pw))
	return &Bootstrap{Secret: []byte(pw), check: func(got string) bool {
		g := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(want[:], g[:]) == 1
	}}
}
