package vhost

import (
	"slices"
	"testing"
)

func TestNormalise(t *testing.T) {
	got := Normalise([]string{" S3.Local:9000 ", "LOCALHOST.", "", ".", "example.com"})
	want := Domains{"s3.local", "localhost", "example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("Normalise = %q, want %q", got, want)
	}
}

func TestBucket(t *testing.T) {
	d := Normalise([]string{"s3.local", "localhost"})
	for _, tc := range []struct{ host, want string }{
		{"b.s3.local", "b"},
		{"B.S3.LOCAL:9000", "b"},
		{"b.s3.local.", "b"},
		{"a.b.localhost", "a.b"},
		{"s3.local", ""},
		{".s3.local", ""},
		{"bs3.local", ""},
		{"b.other", ""},
		{"", ""},
	} {
		if got := d.Bucket(tc.host); got != tc.want {
			t.Errorf("Bucket(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	if got := Domains(nil).Bucket("b.s3.local"); got != "" {
		t.Errorf("no domains: Bucket = %q, want \"\"", got)
	}
}
