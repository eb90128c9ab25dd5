package main

import (
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/procuse"
)

// With --dgp-bin-b the CPU table has a row per binary, each over its own
// readers; without, one row over all of them.
func TestReaderCPURows(t *testing.T) {
	ms := time.Millisecond
	m := &measurement{mode: modeNATSCore, readers: 4, mutations: 100, users: 100, processes: true,
		stats: []readerStats{
			// 2 readers x 100 changes: 60 ms -> 0.300 raw, 10 ms idle -> 0.250 net
			{label: "A: dgp-old", n: 2, Use: procuse.Use{CPU: 60 * ms, Switches: 1400}, idle: 10 * ms, rss: 2 << 30},
			{label: "B: dgp-new", n: 2, Use: procuse.Use{CPU: 50 * ms, Switches: 1000}, idle: 10 * ms, rss: 2 << 30},
		}}
	rows := readerCPURows(m)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for i, want := range []readerCPURow{
		{readers: "2", where: "processes, A: dgp-old", raw: "0.300", idle: "0.050", net: "0.250", switches: "7.0", rss: "1024 MiB"},
		{readers: "2", where: "processes, B: dgp-new", raw: "0.250", idle: "0.050", net: "0.200", switches: "5.0", rss: "1024 MiB"},
	} {
		r := rows[i]
		if r.readers != want.readers || r.where != want.where || r.raw != want.raw || r.idle != want.idle ||
			r.net != want.net || r.switches != want.switches || r.rss != want.rss {
			t.Errorf("row %d: %+v, want %+v", i, r, want)
		}
	}
	m.stats = []readerStats{{n: 4, Use: procuse.Use{CPU: 100 * ms}}}
	if rows := readerCPURows(m); len(rows) != 1 || rows[0].where != "processes" || rows[0].readers != "4" || rows[0].raw != "0.250" {
		t.Errorf("one group: %+v", rows)
	}
}
