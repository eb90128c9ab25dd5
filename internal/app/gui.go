package app

import "net/http"

// mountGUI serves the GUI's pages under /_/.
func (a *App) mountGUI(_ *http.ServeMux) {}
