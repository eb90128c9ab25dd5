// The fleet page: one row per instance, refreshed every few seconds, with
// stale/behind flags and sync-now per instance.
import { api, boot, $, el, clear, flash, showError, button, notAvailable, fmtAgo, fmtTime } from "./common.js";

const refreshMs = 3000;

function stateBadges(i, bucketGen) {
  const out = [];
  if (i.stale) out.push(el("span", { class: "badge bad", title: "no status for more than three intervals" }, "stale"));
  if (i.behind) out.push(el("span", { class: "badge warn", title: `holds generation ${i.generation}, the bucket has ${bucketGen}` }, "behind"));
  if (i.verified === false) out.push(el("span", { class: "badge bad", title: "the status object's signature does not match this fleet's secret" }, "unverified"));
  if (!i.stale && !i.behind) out.push(el("span", { class: "badge ok" }, "current"));
  return out;
}

function sourceText(s) {
  if (typeof s === "string") return s;
  const name = s.name || "?";
  if (s.connected === false) return `${name} (disconnected${s.last_error ? ": " + s.last_error : ""})`;
  return name;
}

async function syncNow(node) {
  try {
    const r = await api("POST", "/fleet/" + encodeURIComponent(node) + "/sync-now");
    const st = r && (r.status || (r.result && r.result.status));
    flash(`Sync-now on ${node}: ${st || "done"}${r && r.generation !== undefined ? ", generation " + r.generation : ""}.`);
    await load();
  } catch (e) {
    showError(e, `Sync-now on ${node}`);
  }
}

async function load() {
  let f;
  try {
    f = await api("GET", "/fleet");
  } catch (e) {
    if (e.status === 404) {
      $("fleet-head").textContent = "The fleet view is not available on this instance (the API answered 404: no sync bucket, or an older build).";
      notAvailable($("fleet"), 10, "The fleet view");
      return false;
    }
    showError(e, "Loading the fleet");
    return true;
  }
  const instances = f.instances || [];
  const behind = instances.filter((i) => i.behind).length;
  const stale = instances.filter((i) => i.stale).length;
  $("fleet-head").textContent = `Bucket generation ${f.bucket_generation}; ${instances.length} instance(s), ` +
    `${behind} behind, ${stale} stale; status every ${f.interval_seconds || 30} s.`;
  const tbody = clear($("fleet"));
  if (instances.length === 0) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 10 }, "No instance has published its status yet.")));
  for (const i of instances) {
    tbody.append(el("tr", { "data-node": i.node, class: i.stale ? "stale" : i.behind ? "behind" : "current" },
      el("td", { class: "mono", title: i.admin_url || "no advertised URL" }, i.node, i.self ? el("span", { class: "hint" }, " (this instance)") : ""),
      el("td", {}, i.role || ""),
      el("td", {}, i.version || ""),
      el("td", {}, String(i.schema ?? "")),
      el("td", { class: "generation" }, String(i.generation ?? "")),
      el("td", { class: "state" }, stateBadges(i, f.bucket_generation)),
      el("td", {}, fmtAgo(i.last_pull), i.pull_source ? ` (${i.pull_source})` : ""),
      el("td", {}, (i.event_sources || []).map(sourceText).join(", ") || "—"),
      el("td", { title: fmtTime(i.updated_at) }, fmtAgo(i.updated_at)),
      el("td", { class: "actions" }, button("Sync now", () => syncNow(i.node), "secondary act-sync"))));
  }
  $("fleet-refreshed").textContent = "Last refreshed " + new Date().toLocaleTimeString() + ".";
  return true;
}

boot(async () => {
  if (!(await load())) return;
  // One refresh loop; a refresh never overlaps the previous one.
  const tick = async () => {
    if (!document.hidden) await load();
    setTimeout(tick, refreshMs);
  };
  setTimeout(tick, refreshMs);
});
