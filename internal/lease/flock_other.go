//go:build !unix

package lease

import "os"

// flock is a no-op where flock(2) does not exist: the DirStore's mutex
// still serialises one process; link(2) keeps creates exclusive.
func flock(*os.File) error { return nil }
