package configdb

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "deltaglider_config.db")
	if _, err := ReadFile(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file: %v, want os.ErrNotExist", err)
	}
	for _, content := range [][]byte{[]byte("first version"), []byte("second, longer version"), {}} {
		if err := WriteFile(path, content); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("ReadFile = %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != FileMode {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), os.FileMode(FileMode))
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v: temporary files left behind", names)
	}
}

// TestWriteFileAtomic reads the file continuously while it is rewritten
// with two versions of different sizes: every read sees one whole version.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	oldV := bytes.Repeat([]byte("o"), 256<<10)
	newV := bytes.Repeat([]byte("N"), 300<<10+7)
	if err := WriteFile(path, oldV); err != nil {
		t.Fatal(err)
	}
	const writes = 40
	var wg sync.WaitGroup
	done := make(chan struct{})
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range writes {
			v := newV
			if i%2 == 1 {
				v = oldV
			}
			if err := WriteFile(path, v); err != nil {
				writeErr = err
				return
			}
		}
	}()
	reads, bad := 0, 0
	var badErr error
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		b, err := ReadFile(path)
		reads++
		if err != nil || !(bytes.Equal(b, oldV) || bytes.Equal(b, newV)) {
			bad++
			badErr = err
		}
	}
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if bad > 0 {
		t.Fatalf("%d of %d reads saw neither version (last error %v)", bad, reads, badErr)
	}
	if got, _ := ReadFile(path); !bytes.Equal(got, oldV) {
		t.Error("final content is not the last version written")
	}
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty directory: the rename fails after the
	// temporary file was written; it must be cleaned up.
	target := filepath.Join(dir, "db")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("new")); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if names := dirEntries(t, dir); len(names) != 1 || names[0] != "db" {
		t.Errorf("directory holds %v after a failed write", names)
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
		t.Error("failed write changed the target")
	}
	if err := WriteFile(filepath.Join(dir, "missing", "db"), []byte("x")); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// TestLeftoverTempFileIsHarmless: a crash between writing the temporary
// file and the rename leaves the old file in place.
func TestLeftoverTempFileIsHarmless(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".db.tmp-123"), []byte("half-writ"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(path); err != nil || string(got) != "old" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if err := WriteFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadFile(path); string(got) != "new" {
		t.Fatalf("ReadFile = %q", got)
	}
}
