package testharness

import "testing"

func TestParseMetricsSum(t *testing.T) {
	m := ParseMetrics(`# HELP x_total things
# TYPE x_total counter
x_total{kind="a",rule="r1"} 2
x_total{kind="b",rule="r1"} 3
x_totally_other 7
x_total 1
bad line
`)
	if got := m.Sum("x_total"); got != 6 {
		t.Errorf("Sum(x_total) = %v, want 6", got)
	}
	if got := m.Sum("x_total", `kind="b"`); got != 3 {
		t.Errorf(`Sum(x_total, kind="b") = %v, want 3`, got)
	}
	if got := m.Sum("x_totally_other"); got != 7 {
		t.Errorf("Sum(x_totally_other) = %v, want 7", got)
	}
}
