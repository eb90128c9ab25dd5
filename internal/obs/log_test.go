package obs

import (
	"bytes"
	"strings"
	"testing"
)

func TestConsoleShowsComponentInBrackets(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, LogOptions{Format: "console"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("component", "config-sync").Str("etag", "abc").Msg("pulled")
	out := buf.String()
	if !strings.Contains(out, "[config-sync]") || !strings.Contains(out, "pulled") || !strings.Contains(out, "etag=") {
		t.Fatalf("console line lacks component/message/fields: %q", out)
	}
}

func TestJSONKeepsComponentField(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, LogOptions{Format: "json", Level: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Str("component", "config-sync").Msg("x")
	if !strings.Contains(buf.String(), `"component":"config-sync"`) {
		t.Fatalf("json line: %q", buf.String())
	}
}

func TestBadLogOptions(t *testing.T) {
	for _, o := range []LogOptions{{Level: "loud"}, {Format: "xml"}} {
		if _, err := NewLogger(&bytes.Buffer{}, o); err == nil {
			t.Errorf("%+v: want error", o)
		}
	}
}

// Console output that is not a terminal (docker compose logs, a file) has no
// colour escapes, so grep and log shippers see the plain words.
func TestConsoleHasNoColourOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, LogOptions{Format: "console"})
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("component", "config-sync").Str("etag", "abc").Msg("pulled")
	if out := buf.String(); strings.Contains(out, "\x1b[") {
		t.Fatalf("console line off a terminal has colour escapes: %q", out)
	}
}
