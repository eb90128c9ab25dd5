package fsbackend

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// A tool opening the data directory of a running server read-only must
// leave the server's uploads in flight (its staging files) alone, create
// nothing, and refuse every change.
func TestOpenReadOnlyLeavesTheServersFilesAlone(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv, err := New("fs", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mustBucket(t, srv, "b")
	mustPut(t, srv, "b", "k1", "one")
	mustPut(t, srv, "b", "dir/k2", "two")
	// An upload in flight: a staging file of the server's.
	inFlight := filepath.Join(root, stagingDir, "upload-in-flight")
	if err := os.WriteFile(inFlight, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)

	ro, err := OpenReadOnly("fs", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ro.ListObjects(ctx, "b", storage.ListOptions{MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	if got := strings.Join(keys, ","); got != "dir/k2,k1" {
		t.Fatalf("listed %q, want dir/k2,k1", got)
	}
	if got := mustGet(t, ro, "b", "k1"); got != "one" {
		t.Fatalf("read %q", got)
	}

	changes := map[string]error{}
	_, changes["PutObject"] = ro.PutObject(ctx, "b", "new", strings.NewReader("x"), 1, storage.PutOptions{})
	_, changes["DeleteObject"] = ro.DeleteObject(ctx, "b", "k1", storage.DeleteOptions{})
	changes["CreateBucket"] = ro.CreateBucket(ctx, "c", storage.CreateBucketOptions{})
	changes["DeleteBucket"] = ro.DeleteBucket(ctx, "b")
	_, changes["CreateMultipartUpload"] = ro.CreateMultipartUpload(ctx, "b", "m", storage.PutOptions{})
	_, changes["CopyObject"] = ro.CopyObject(ctx, storage.ObjectRef{Bucket: "b", Key: "k1"}, storage.ObjectRef{Bucket: "b", Key: "k3"}, storage.CopyOptions{})
	changes["PutBucketVersioning"] = ro.PutBucketVersioning(ctx, "b", storage.VersioningEnabled)
	for op, err := range changes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only backend: %v, want ErrReadOnly", op, err)
		}
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after := tree(t, root); after != before {
		t.Fatalf("the read-only backend changed the data directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := mustGet(t, srv, "b", "k1"); got != "one" {
		t.Fatalf("server reads %q after the read-only backend", got)
	}
}

// OpenReadOnly of a directory that does not exist fails and creates it not.
func TestOpenReadOnlyMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	if _, err := OpenReadOnly("fs", root, nil); err == nil {
		t.Fatal("opened a missing root")
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("root created: %v", err)
	}
}

// tree lists every path below root with its size.
func tree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b.WriteString(rel)
		if !fi.IsDir() {
			b.WriteString(" " + fi.Mode().String())
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
