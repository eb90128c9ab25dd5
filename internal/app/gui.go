package app

import (
	"net/http"

	"github.com/dgp-proxy/dgp/internal/gui"
)

// mountGUI serves the GUI's pages under /_/ (docs/gui.md). The GUI asks
// the same mux's admin API (GET /_/api/admin/whoami) whether a request is
// signed in, so it never reads session tokens itself.
func (a *App) mountGUI(mux *http.ServeMux) {
	h, err := gui.New(gui.Options{Sessions: mux})
	if err != nil {
		// The pages are embedded and rendered from constant templates, so
		// this is a bug of the build (gui's tests catch it): the instance
		// still serves S3 and the admin API.
		a.log.Error().Err(err).Msg("admin GUI disabled: its embedded pages do not render")
		return
	}
	h.Register(mux)
}
