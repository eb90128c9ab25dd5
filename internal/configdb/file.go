package configdb

import (
	"fmt"
	"os"
	"path/filepath"
)

// FileMode is the permission of config DB files written by WriteFile.
const FileMode = 0o600

// WriteFile replaces the file at path with b atomically and durably: it
// writes a temporary file in the same directory (mode 0600), fsyncs it,
// renames it over path and fsyncs the directory. A reader of path sees the
// old content or the new, never a mix; after a crash the file is one or the
// other. On error the old file is untouched and the temporary file removed.
func WriteFile(path string, b []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write config db file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(FileMode); err != nil {
		return fmt.Errorf("write config db file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("write config db file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write config db file: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write config db file: close: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write config db file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		// The rename happened: the file is the new one, only its durability
		// across a power loss is in doubt. Report it without deleting.
		return fmt.Errorf("write config db file: sync directory: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadFile returns the content of the config DB file at path. A missing
// file is reported with an error matching os.ErrNotExist (errors.Is), so
// callers can tell "no local DB yet" from a failure.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config db file: %w", err)
	}
	return b, nil
}
