package app

import (
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3api"
)

// rootPrincipal is the break-glass identity: allowed everything, always.
type rootPrincipal struct{ creds RootCredentials }

func (p rootPrincipal) Name() string                            { return "root" }
func (p rootPrincipal) SecretAccessKey() string                 { return p.creds.SecretAccessKey }
func (p rootPrincipal) Allowed(iam.Action, string, string) bool { return true }

// principals resolves an access key to the root identity or an IAM user.
type principals struct {
	root  rootPrincipal
	state func() *configdb.State
}

var _ s3api.Principals = (*principals)(nil)

func (p *principals) Lookup(accessKeyID string) (s3api.Principal, bool) {
	if accessKeyID == p.root.creds.AccessKeyID {
		return p.root, true
	}
	// Disabled users are not found: their keys stop working at once.
	if u, ok := p.state().Lookup(accessKeyID); ok {
		return u, true
	}
	return nil, false
}
