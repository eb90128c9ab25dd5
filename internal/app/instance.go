package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// Files an instance keeps in its data dir.
const (
	rootCredentialsFile = "root-credentials.json"
	nodeIDFile          = "node-id"
)

// RootCredentials are the break-glass S3 credentials of an instance.
type RootCredentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// loadRootCredentials returns the configured root credentials, or the ones
// kept in the data dir, or generates, prints (once, on w) and keeps new ones.
// The instance never starts without credentials.
func loadRootCredentials(dataDir, accessKey, secretKey string, w io.Writer) (RootCredentials, error) {
	if accessKey != "" && secretKey != "" {
		return RootCredentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil
	}
	path := filepath.Join(dataDir, rootCredentialsFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var rc RootCredentials
		if err := json.Unmarshal(b, &rc); err != nil || rc.AccessKeyID == "" || rc.SecretAccessKey == "" {
			return RootCredentials{}, fmt.Errorf("root credentials file %s is damaged: remove it to generate new credentials, or set DGP_ACCESS_KEY_ID and DGP_SECRET_ACCESS_KEY", path)
		}
		return rc, nil
	case !errors.Is(err, fs.ErrNotExist):
		return RootCredentials{}, fmt.Errorf("read root credentials: %w", err)
	}
	rc := RootCredentials{AccessKeyID: iam.NewAccessKeyID(), SecretAccessKey: iam.NewSecretAccessKey()}
	b, _ = json.MarshalIndent(rc, "", "  ")
	if err := configdb.WriteFile(path, append(b, '\n')); err != nil {
		return RootCredentials{}, fmt.Errorf("keep root credentials: %w", err)
	}
	fmt.Fprintf(w, "\n"+
		"dgp: no S3 credentials were configured, so root credentials were generated.\n"+
		"     They are shown this once and kept (mode 0600) in %s:\n\n"+
		"     AWS_ACCESS_KEY_ID=%s\n     AWS_SECRET_ACCESS_KEY=%s\n\n"+
		"     Set DGP_ACCESS_KEY_ID / DGP_SECRET_ACCESS_KEY to choose your own.\n\n",
		path, rc.AccessKeyID, rc.SecretAccessKey)
	return rc, nil
}

// loadNodeID returns the configured node id, or the one kept in the data
// dir, or a new one (kept for the next start).
func loadNodeID(dataDir, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "dgp"
	}
	if len(host) > 40 {
		host = host[:40]
	}
	id := host + "-" + iam.NewID()[:8]
	if err := configdb.WriteFile(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("keep node id: %w", err)
	}
	return id, nil
}
