// Package upgradetest holds the rolling-upgrade test of the config DB's
// schema (build tag integration): two real dgp binaries, the old one built
// from this repository's history (the commit before the one that sets
// configdb.CurrentSchema = 2, checked out with `git worktree`) and the new
// one from the working tree, run as child processes on 127.0.0.1 as a
// three-instance fleet sharing one versioned sync bucket, upgraded one
// instance at a time while a mutation workload runs. See TestRollingUpgrade
// and docs/upgrading.md ("How this is tested").
//
// Run it:
//
//	go test -count=1 -tags integration ./internal/upgradetest/ -run TestRollingUpgrade -v
//
// with DGP_TEST_MINIO*, DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT and
// DGP_TEST_MINIO_NATS_ARN set (docs/contributing.md). DGP_TEST_UPGRADE_OLD_REF
// names another commit (any git revision) to build as the old binary; it
// is meant for developing the test itself, e.g. HEAD before schema 2 exists.
package upgradetest
