package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stand-in CLI that crashes with SIGSEGV on its first two runs and then
// succeeds is run again until it succeeds; one that fails normally is not.
func TestAWSCLIRunnerRetriesCrashesOnly(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	script := filepath.Join(dir, "aws")
	body := `#!/bin/sh
n=$(cat "` + count + `" 2>/dev/null || echo 0)
n=$((n+1)); echo $n > "` + count + `"
case "$*" in
  *fail*) echo "An error occurred (AccessDenied)"; exit 1 ;;
esac
if [ $n -le 2 ]; then kill -SEGV $$; fi
echo "ok after $n"
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &AWSCLIRunner{Bin: script, Env: os.Environ()}
	out, err := r.Run("http://127.0.0.1:1", "s3", "ls")
	if err != nil || !strings.Contains(out, "ok after 3") || !strings.Contains(out, "crashed before") {
		t.Fatalf("crashing CLI: %v %q", err, out)
	}
	_ = os.Remove(count)
	out, err = r.Run("http://127.0.0.1:1", "s3", "fail")
	if err == nil || strings.Contains(out, "crashed") {
		t.Fatalf("failing CLI: %v %q", err, out)
	}
	if b, _ := os.ReadFile(count); strings.TrimSpace(string(b)) != "1" {
		t.Fatalf("failing CLI run %s times, want once", b)
	}
}
