// The object browser: buckets, prefixes ("folders"), upload with a
// progress bar, download and delete, acting with the signed-in identity's
// own rights through /_/api/admin/objects.
import { API, api, boot, $, el, clear, flash, showError, armed, notAvailable, fmtSize, fmtTime, ApiError } from "./common.js";

const state = { bucket: "", prefix: "", next: "" };

// objectPath is the API path of a bucket and key, each key segment
// escaped, the slashes kept.
function objectPath(bucket, key) {
  return "/objects/" + encodeURIComponent(bucket) + (key === undefined ? "" : "/" + key.split("/").map(encodeURIComponent).join("/"));
}

function go(bucket, prefix) {
  const params = new URLSearchParams();
  if (bucket) params.set("bucket", bucket);
  if (prefix) params.set("prefix", prefix);
  history.pushState(null, "", "/_/ui/objects" + (params.toString() ? "?" + params : ""));
  fromLocation();
}

function fromLocation() {
  const p = new URLSearchParams(location.search);
  state.bucket = p.get("bucket") || "";
  state.prefix = p.get("prefix") || "";
  state.next = "";
  render();
}

function crumbs() {
  const nav = clear($("crumbs"));
  nav.append(el("a", { href: "#", onclick: (e) => { e.preventDefault(); go("", ""); } }, "Buckets"));
  if (!state.bucket) return;
  nav.append(" / ", el("a", { href: "#", onclick: (e) => { e.preventDefault(); go(state.bucket, ""); } }, state.bucket));
  let acc = "";
  for (const part of state.prefix.split("/").filter(Boolean)) {
    acc += part + "/";
    const target = acc;
    nav.append(" / ", el("a", { href: "#", onclick: (e) => { e.preventDefault(); go(state.bucket, target); } }, part));
  }
}

async function render() {
  crumbs();
  $("upload-bar").classList.toggle("hidden", !state.bucket);
  if (!state.bucket) return listBuckets();
  return listObjects(false);
}

async function listBuckets() {
  const tbody = $("objects");
  $("more").classList.add("hidden");
  let r;
  try {
    r = await api("GET", "/objects");
  } catch (e) {
    if (e.status === 404 && e.code !== "NoSuchBucket") return notAvailable(tbody, 4, "The object browser");
    return showError(e, "Listing buckets");
  }
  clear(tbody);
  const buckets = (r && r.buckets) || [];
  if (buckets.length === 0) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 4 }, "No bucket you may list.")));
  for (const b of buckets) {
    const start = !b.list_root && b.start_prefixes && b.start_prefixes.length ? b.start_prefixes[0] : "";
    tbody.append(el("tr", { "data-bucket": b.name },
      el("td", {}, el("a", { href: "#", class: "bucket", onclick: (e) => { e.preventDefault(); go(b.name, start); } }, "🪣 " + b.name)),
      el("td", {}, "—"), el("td", {}, fmtTime(b.created)), el("td", {})));
  }
}

async function listObjects(more) {
  const tbody = $("objects");
  const params = new URLSearchParams({ delimiter: "/", max: "200" });
  if (state.prefix) params.set("prefix", state.prefix);
  if (more && state.next) params.set("start_after", state.next);
  let r;
  try {
    r = await api("GET", objectPath(state.bucket) + "?" + params);
  } catch (e) {
    if (!more) clear(tbody);
    return showError(e, `Listing ${state.bucket}/${state.prefix}`);
  }
  if (!more) clear(tbody);
  for (const p of r.common_prefixes || []) {
    const name = p.slice(state.prefix.length);
    tbody.append(el("tr", { "data-prefix": p },
      el("td", {}, el("a", { href: "#", class: "prefix", onclick: (e) => { e.preventDefault(); go(state.bucket, p); } }, "📁 " + name)),
      el("td", {}, "—"), el("td", {}), el("td", {})));
  }
  for (const o of r.objects || []) {
    const name = o.key.slice(state.prefix.length);
    const href = API + objectPath(state.bucket, o.key);
    const del = armed(el("button", { type: "button", class: "danger act-delete" }, "Delete"), "Really delete?", () => remove(o.key));
    tbody.append(el("tr", { "data-key": o.key },
      el("td", {}, el("a", { href, class: "download", download: name.split("/").pop() || "download" }, name)),
      el("td", {}, fmtSize(o.size)),
      el("td", {}, fmtTime(o.last_modified)),
      el("td", { class: "actions" }, el("a", { href, class: "act-download", download: name.split("/").pop() || "download" }, "Download"), " ", del)));
  }
  if (tbody.children.length === 0) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 4 }, "Empty.")));
  state.next = r.is_truncated ? (r.next_start_after || "") : "";
  $("more").classList.toggle("hidden", !state.next);
}

async function remove(key) {
  try {
    await api("DELETE", objectPath(state.bucket, key));
    flash(`Deleted ${key}.`);
    await listObjects(false);
  } catch (e) {
    showError(e, `Deleting ${key}`);
  }
}

// upload PUTs the file with XMLHttpRequest, whose upload events drive the
// progress bar (fetch has no upload progress).
function upload(ev) {
  ev.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const key = state.prefix + file.name;
  const bar = $("upload-progress");
  const status = $("upload-status");
  const submit = $("upload-submit");
  bar.value = 0;
  bar.classList.remove("hidden");
  status.textContent = `Uploading ${file.name}…`;
  submit.disabled = true;
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", API + objectPath(state.bucket, key));
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
  });
  const done = () => { submit.disabled = false; };
  xhr.addEventListener("load", async () => {
    done();
    if (xhr.status >= 200 && xhr.status < 300) {
      bar.value = 100;
      status.textContent = `Uploaded ${key} (${fmtSize(file.size)}).`;
      $("upload-file").value = "";
      await listObjects(false);
      return;
    }
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { body = { message: xhr.responseText || xhr.statusText }; }
    status.textContent = "Upload failed.";
    showError(new ApiError(xhr.status, body), `Uploading ${key}`);
  });
  xhr.addEventListener("error", () => {
    done();
    status.textContent = "Upload failed.";
    showError(new ApiError(0, { error: "network", message: "the connection failed during the upload" }), `Uploading ${key}`);
  });
  xhr.send(file);
}

boot(async () => {
  $("upload-form").addEventListener("submit", upload);
  $("more").addEventListener("click", () => listObjects(true));
  addEventListener("popstate", fromLocation);
  fromLocation();
});
