package main

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for dgp-bench where a test runs
// it as a child process (gateway --processes execs its own executable:
// here, this binary).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "gateway-target" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "dgp-bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
