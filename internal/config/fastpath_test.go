package config

import "testing"

func TestS3FastPathDefaultsOn(t *testing.T) {
	if !mustParse(t, "", nil).Advanced.S3FastPath {
		t.Fatal("advanced.s3_fast_path is off by default")
	}
	if mustParse(t, "advanced:\n  s3_fast_path: false\n", nil).Advanced.S3FastPath {
		t.Fatal("advanced.s3_fast_path: false left it on")
	}
	if mustParse(t, "", map[string]string{"DGP_S3_FAST_PATH": "false"}).Advanced.S3FastPath {
		t.Fatal("DGP_S3_FAST_PATH=false left it on")
	}
}

func TestS3FastPathRejectsANonBoolean(t *testing.T) {
	for name, tc := range map[string]struct {
		doc string
		env map[string]string
	}{
		"file": {doc: "advanced:\n  s3_fast_path: sometimes\n"},
		"env":  {env: map[string]string{"DGP_S3_FAST_PATH": "sometimes"}},
	} {
		errs := parseErrors(t, tc.doc, tc.env)
		if len(errs) != 1 || errs[0].Path != "advanced.s3_fast_path" {
			t.Errorf("%s: errors %+v, want one for advanced.s3_fast_path", name, errs)
		}
	}
}
