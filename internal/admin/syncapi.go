package admin

import (
	"errors"
	"net/http"

	"github.com/dgp-proxy/dgp/internal/configsync"
)

var errSyncDisabled = &apiError{Status: http.StatusNotFound, Code: "sync_disabled",
	Message: "config sync is not enabled on this instance (set advanced.config_sync_bucket)"}

// syncNow pulls the config DB from the sync bucket now and answers
// {downloaded, etag, generation, status}.
func (a *API) syncNow(w http.ResponseWriter, r *http.Request, p *principal) error {
	if a.sync == nil {
		return errSyncDisabled
	}
	res, err := a.sync.SyncNow(r.Context())
	if errors.Is(err, configsync.ErrDisabled) {
		return errSyncDisabled
	}
	if err != nil {
		a.log.Warn().Str("identity", p.who()).Str("ip", p.ip).Err(err).Msg("sync-now failed")
		return &apiError{Status: http.StatusBadGateway, Code: "sync_failed", Message: err.Error()}
	}
	a.log.Info().Str("identity", p.who()).Str("ip", p.ip).Bool("downloaded", res.Downloaded).
		Str("etag", res.ETag).Uint64("generation", res.Generation).Str("status", res.Status).Msg("sync-now")
	writeJSON(w, http.StatusOK, res)
	return nil
}

// syncStatus answers the syncer's status.
func (a *API) syncStatus(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	if a.sync == nil {
		return errSyncDisabled
	}
	writeJSON(w, http.StatusOK, a.sync.Status())
	return nil
}
