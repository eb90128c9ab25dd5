package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Declarative IAM on an instance configured as a sync reader, with a sync
// bucket that cannot be reached: the app wires it as a writer without a
// sync bucket, so the startup reconcile applies (a reader would refuse it),
// nothing is pulled, and sync-now, status and readiness say declarative.
func TestDeclarativeReaderRoleIsLocal(t *testing.T) {
	bucket := testutil.UniqueName("shared")
	const readerSync = `  config_sync_bucket: dgp-iam-sync
  config_sync_role: reader
  config_sync_s3: {endpoint: "http://127.0.0.1:1", region: us-east-1, access_key_id: nobody, secret_access_key: nobody-secret}
`
	d := startDecl(t, "", readerSync, fmt.Sprintf(twoUsersIAM, bucket), baseEnv())
	st := d.started()
	if st.Generation() != 1 || st.NumUsers() != 2 {
		t.Fatalf("startup reconcile on a reader: generation %d, %d users", st.Generation(), st.NumUsers())
	}
	res, err := d.app.syncer.SyncNow(context.Background())
	if err != nil || res.Status != configsync.StatusDeclarative || res.Downloaded || res.Generation != 1 {
		t.Fatalf("sync-now = %+v, %v", res, err)
	}
	status := d.app.syncer.Status()
	if status.Mode != configsync.ModeDeclarative || status.State != configsync.ReadyDeclarative ||
		status.Bucket != "dgp-iam-sync" || status.Role != configsync.RoleWriter || status.LastPull != nil {
		t.Fatalf("status: mode %q state %q bucket %q role %q last pull %+v",
			status.Mode, status.State, status.Bucket, status.Role, status.LastPull)
	}
	if len(d.app.sources) != 0 {
		t.Fatalf("%d event sources on a declarative instance", len(d.app.sources))
	}
}
