// The dashboard: the session, this instance's config sync, a fleet summary.
import { api, boot, $, el, clear, flash, showError, session, fmtTime, fmtAgo } from "./common.js";

function dl(node, pairs) {
  clear(node);
  for (const [k, v] of pairs) node.append(el("dt", {}, k), el("dd", {}, v === undefined || v === null || v === "" ? "—" : String(v)));
}

async function loadSync() {
  try {
    const s = await api("GET", "/config/sync-status");
    dl($("sync"), [["Role", s.role], ["State", s.state], ["Node", s.node_id], ["Bucket", s.bucket], ["Generation", s.generation],
      ["Last pull", s.last_pull ? fmtAgo(s.last_pull.time || s.last_pull.at || s.last_pull) : ""]]);
  } catch (e) {
    if (e.status === 404) dl($("sync"), [["Sync", "disabled on this instance (no sync bucket)"]]);
    else showError(e, "Loading the sync status");
  }
}

async function loadFleet() {
  try {
    const f = await api("GET", "/fleet");
    const n = (f.instances || []).length;
    const behind = (f.instances || []).filter((i) => i.behind || i.stale).length;
    $("fleet-summary").textContent = `${n} instance(s) at bucket generation ${f.bucket_generation}; ${behind} behind or stale.`;
  } catch (e) {
    $("fleet-summary").textContent = e.status === 404 ? "The fleet view is not available on this instance." : e.message;
  }
}

async function loadIAM() {
  try {
    const r = await api("GET", "/users?limit=1", undefined, { raw: true });
    const groups = await api("GET", "/groups");
    $("iam-summary").textContent = `${r.headers.get("X-Total-Count") ?? "?"} users, ${groups.length} groups.`;
  } catch (e) {
    $("iam-summary").textContent = e.message;
  }
}

boot(async () => {
  dl($("session"), [["Identity", session.identity], ["Kind", session.kind], ["Expires", fmtTime(session.expires_at)]]);
  $("sync-now").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/config/sync-now");
      flash(`Sync-now: ${r.status}, generation ${r.generation}.`);
      await loadSync();
    } catch (e) {
      showError(e, "Sync-now");
    }
  });
  await Promise.all([loadSync(), loadFleet(), loadIAM()]);
});
