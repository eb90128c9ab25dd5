//go:build integration

package configsync_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// crashDirEnv names the data dir of the child process of TestCrashDuringPersist.
const crashDirEnv = "DGP_CONFIGSYNC_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestCrashDuringPersist: it persists DBs
// (local publishes, each a WriteFile) in a loop until it is killed. It
// does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashDuringPersist")
	}
	n := newNodeIn(t, dir, nil)
	mustStart(t, n)
	for i := 0; ; i++ {
		mustPublish(t, n, createUser(fmt.Sprintf("u-%d-%d", os.Getpid(), i)))
		if i == 0 {
			fmt.Println("persisting")
		}
	}
}

// TestCrashDuringPersist kills (SIGKILL) a process in the middle of
// persisting DBs, twenty times; after each kill the local file opens as a
// valid DB, never older than before, and a restart cleans up.
func TestCrashDuringPersist(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "deltaglider_config.db")
	var lastGen uint64
	interrupted := 0
	for round := 0; round < 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = testutil.Env(crashDirEnv + "=" + dir)
		out, err := cmd.StdoutPipe()
		testutil.Must(t, err, "pipe")
		cmd.Stderr = os.Stderr
		testutil.Must(t, cmd.Start(), "start child")
		sc := bufio.NewScanner(out)
		started := false
		for sc.Scan() {
			if sc.Text() == "persisting" {
				started = true
				break
			}
		}
		if !started {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: the child never started persisting", round)
		}
		time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond)
		testutil.Must(t, cmd.Process.Signal(syscall.SIGKILL), "kill child %d", cmd.Process.Pid)
		_ = cmd.Wait()

		if tmp, _ := filepath.Glob(filepath.Join(dir, ".deltaglider_config.db.tmp-*")); len(tmp) > 0 {
			interrupted++ // killed between creating the temporary file and the rename
		}
		b, err := os.ReadFile(path)
		testutil.Must(t, err, "round %d: read the db", round)
		st, h, err := configdb.Open(b, nil, testSecret)
		if err != nil {
			t.Fatalf("round %d: the db does not open after a kill: %v", round, err)
		}
		if h.Generation < lastGen || int(h.Generation) != st.NumUsers() {
			t.Fatalf("round %d: generation %d (before %d) with %d users", round, h.Generation, lastGen, st.NumUsers())
		}
		lastGen = h.Generation
	}
	t.Logf("20 kills, final generation %d, %d kills interrupted a write", lastGen, interrupted)
	// A restart removes the temporary files of interrupted writes.
	n := newNodeIn(t, dir, nil)
	testutil.Must(t, n.Start(context.Background()), "restart")
	if left, _ := filepath.Glob(filepath.Join(dir, ".deltaglider_config.db.tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left after a restart: %v", left)
	}
	if n.Current().Generation() != lastGen {
		t.Fatalf("restart loaded generation %d, want %d", n.Current().Generation(), lastGen)
	}
}
