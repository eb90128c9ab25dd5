//go:build integration

package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestListingRuns runs the listing bench on a few keys against the test
// MinIO: every target and case has its row, and the secret key is not in
// the report. It asserts nothing about speed.
func TestListingRuns(t *testing.T) {
	endpoint, ak, sk := minioFromEnv(t)
	if ak == "" {
		ak, sk = "minioadmin", "minioadmin"
	}
	bucket := "dgp-bench-listing-" + randomHex(4)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := newS3Client(&http.Client{Transport: newClientTransport()}, endpoint, ak, sk)
		if err := (&bench{bucket: bucket}).cleanup(ctx, c); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"listing",
		"--minio", endpoint, "--minio-access-key", ak, "--minio-secret-key", sk,
		"--n", "1500", "--bucket", bucket, "--rounds", "1", "--full-rounds", "1",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("listing: %v\nstderr:\n%s", err, errOut.String())
	}
	report := out.String()
	for _, c := range []string{"flat, MaxKeys=1, no delimiter", "deep, full listing (1000 a page), delimiter '/'",
		"flat, 1000 after the middle key, delimiter '/'"} {
		for _, tg := range allListingTargets {
			if want := "| " + c + " | " + tg + " |"; !strings.Contains(report, want) {
				t.Errorf("report lacks %q", want)
			}
		}
	}
	if strings.Contains(report, "--minio-secret-key "+sk) {
		t.Error("report shows the MinIO secret key")
	}

	// The same bucket listed with ListObjectVersions: every target's pages
	// hold the entries a ListObjectsV2 page would (the run checks the
	// counts of every case and fails otherwise).
	out.Reset()
	errOut.Reset()
	err = run(t.Context(), []string{"listing",
		"--minio", endpoint, "--minio-access-key", ak, "--minio-secret-key", sk,
		"--n", "1500", "--bucket", bucket, "--rounds", "1", "--full-rounds", "1",
		"--versions", "--targets", "minio,dgp-minio,dgp-dir",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("listing --versions: %v\nstderr:\n%s", err, errOut.String())
	}
	if want := "| flat, full listing (1000 a page), no delimiter | dgp-minio |"; !strings.Contains(out.String(), want) {
		t.Errorf("versions report lacks %q", want)
	}
}
