package config

import (
	"slices"
	"testing"
)

func TestSigV2DefaultsOn(t *testing.T) {
	if !mustParse(t, "", nil).Access.SigV2 {
		t.Fatal("access.sigv2 is off by default")
	}
	if mustParse(t, "access:\n  sigv2: false\n", nil).Access.SigV2 {
		t.Fatal("access.sigv2: false left it on")
	}
	if mustParse(t, "", map[string]string{"DGP_SIGV2": "false"}).Access.SigV2 {
		t.Fatal("DGP_SIGV2=false left it on")
	}
}

func TestSigningRegions(t *testing.T) {
	const s3 = "storage:\n  s3: https://s3.example.com\n  region: eu-west-1\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{name: "nothing set: any", doc: "", want: nil},
		{name: "storage.region", doc: s3, want: []string{"eu-west-1"}},
		{name: "access.regions beats storage.region", doc: s3 + "access:\n  regions: [us-east-1, eu-central-1]\n",
			want: []string{"us-east-1", "eu-central-1"}},
		{name: "star: any despite storage.region", doc: s3 + "access:\n  regions: [\"*\"]\n", want: nil},
		{name: "access.regions alone", doc: "access:\n  regions: [local]\n", want: []string{"local"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustParse(t, tc.doc, nil).SigningRegions(); !slices.Equal(got, tc.want) {
				t.Fatalf("SigningRegions = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRegionsValidation(t *testing.T) {
	cases := []struct {
		doc, path, problem string
	}{
		{doc: "access:\n  regions: [\"\"]\n", path: "access.regions[0]", problem: "1-64 characters"},
		{doc: "access:\n  regions: [us-east-1, \"eu west\"]\n", path: "access.regions[1]", problem: "without '/' or spaces"},
		{doc: "access:\n  regions: [\"a/b\"]\n", path: "access.regions[0]", problem: "without '/' or spaces"},
		{doc: "access:\n  regions: [us-east-1, us-east-1]\n", path: "access.regions[1]", problem: "listed twice"},
	}
	for _, tc := range cases {
		if errs := parseErrors(t, tc.doc, nil); !hasError(errs, tc.path, tc.problem) {
			t.Errorf("%q: errors %q, want %s: %s", tc.doc, lines(errs), tc.path, tc.problem)
		}
	}
}
