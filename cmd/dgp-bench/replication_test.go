package main

import (
	"strings"
	"testing"
	"time"
)

// TestReplMedians: per workload, the median times and the median of the
// rounds' ratios (not the ratio of the medians).
func TestReplMedians(t *testing.T) {
	r := func(tool string, s float64) replResult {
		return replResult{tool: tool, objects: 20, bytes: 20 << 26, took: time.Duration(s * float64(time.Second))}
	}
	all := [][2]replResult{
		{r("dgp", 10), r("rclone", 10)}, // 1.00x
		{r("dgp", 4), r("rclone", 12)},  // 3.00x
		{r("dgp", 8), r("rclone", 4)},   // 0.50x
		{r("dgp", 2), r("rclone", 3)},
	}
	names := []string{"20 x 64 MiB", "20 x 64 MiB", "20 x 64 MiB", "2 x 1 KiB"}
	var b strings.Builder
	writeReplMedians(&b, names, all)
	out := b.String()
	for _, want := range []string{
		"| 20 x 64 MiB | 3 | 8.000s | 10.000s | 160.0 | 128.0 | 1.00x |",
		"| 2 x 1 KiB | 1 | 2.000s | 3.000s |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
