// The jobs page: the instance's background jobs (GET /jobs), with
// run-now, pause and resume.
import { api, boot, $, el, clear, flash, showError, button, notAvailable, fmtTime } from "./common.js";

async function act(id, verb) {
  try {
    await api("POST", "/jobs/" + encodeURIComponent(id) + "/" + verb);
    flash(`Job ${id}: ${verb} done.`);
    await load();
  } catch (e) {
    showError(e, `Job ${id} ${verb}`);
  }
}

async function load() {
  let r;
  try {
    r = await api("GET", "/jobs");
  } catch (e) {
    if (e.status === 404) return notAvailable($("jobs"), 7, "The jobs API");
    return showError(e, "Loading jobs");
  }
  const jobs = (r && r.jobs) || [];
  const tbody = clear($("jobs"));
  if (jobs.length === 0) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 7 }, "No jobs configured.")));
  for (const j of jobs) {
    const last = j.last_run ? `${fmtTime(j.last_run.finished || j.last_run.started)} ${j.last_run.status || ""}${j.last_run.error ? ": " + j.last_run.error : ""}` : "—";
    tbody.append(el("tr", { "data-id": j.id },
      el("td", {}, el("strong", {}, j.id), el("div", { class: "hint" }, j.rule || "")),
      el("td", {}, j.kind || ""),
      el("td", {}, j.status || "", j.paused ? el("span", { class: "badge warn" }, " paused") : ""),
      el("td", {}, j.leader_instance || j.leader || "—", j.held_here ? " (here)" : ""),
      el("td", {}, last),
      el("td", {}, fmtTime(j.next_full)),
      el("td", { class: "actions" },
        button("Run now", () => act(j.id, "run-now")),
        j.paused ? button("Resume", () => act(j.id, "resume")) : button("Pause", () => act(j.id, "pause")))));
  }
}

boot(load);
