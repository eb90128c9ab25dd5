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
		// The pages are embedded and rendered from constant templates: an
		// error is a bug of the build, caught by gui's own tests.
		panic("gui: " + err.Error())
	}
	h.Register(mux)
}
