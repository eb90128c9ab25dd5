// Package obs sets up what operators watch: structured logs (zerolog) and
// Prometheus metrics, plus the small HTTP endpoints /_/health, /_/ready and
// /_/metrics. Nothing here is global: the logger and registry are values
// handed to every component by the composition root.
package obs

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// LogOptions select the log level and format.
type LogOptions struct {
	Level  string // debug|info|warn|error (default info)
	Format string // auto|json|console (default auto: console when out is a terminal)
}

// NewLogger returns the root logger writing to out. In console form the
// component field is shown as a "[component]" prefix (operators are told
// to watch for "[config-sync]" lines).
func NewLogger(out io.Writer, o LogOptions) (zerolog.Logger, error) {
	lvl := zerolog.InfoLevel
	if o.Level != "" {
		l, err := zerolog.ParseLevel(strings.ToLower(o.Level))
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("log level %q: %w", o.Level, err)
		}
		lvl = l
	}
	console := false
	switch o.Format {
	case "", "auto":
		console = isTerminal(out)
	case "console":
		console = true
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want auto, json or console", o.Format)
	}
	w := out
	if console {
		w = ConsoleWriter(out)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// ConsoleWriter renders log lines for humans: time, level, "[component]",
// message, then the remaining fields. Colours only on a terminal: `docker
// compose logs` and files get plain text.
func ConsoleWriter(out io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{
		Out:           out,
		NoColor:       !isTerminal(out),
		TimeFormat:    time.RFC3339,
		PartsOrder:    []string{zerolog.TimestampFieldName, zerolog.LevelFieldName, "component", zerolog.MessageFieldName},
		FieldsExclude: []string{"component"},
		FormatPrepare: func(m map[string]any) error {
			if c, ok := m["component"].(string); ok && c != "" {
				m["component"] = "[" + c + "]"
			}
			return nil
		},
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}
