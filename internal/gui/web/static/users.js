// The users page: search and pages of users, create (the secret shown
// once, with a copy button), edit rules and groups, enable/disable,
// rotate keys, delete.
import { api, boot, $, el, clear, flash, showError, armed, button, parseRules, rulesSummary, fmtTime } from "./common.js";

const pageSize = 50;
const state = { q: "", after: "", history: [], next: "", groups: [], editing: null };

async function loadGroups() {
  try {
    state.groups = await api("GET", "/groups");
  } catch (e) {
    state.groups = [];
    showError(e, "Loading groups");
  }
}

function groupName(id) {
  const g = state.groups.find((x) => x.id === id);
  return g ? g.name : id;
}

async function load() {
  const params = new URLSearchParams({ limit: String(pageSize) });
  if (state.q) params.set("q", state.q);
  if (state.after) params.set("after", state.after);
  const tbody = $("users");
  let res;
  try {
    res = await api("GET", "/users?" + params, undefined, { raw: true });
  } catch (e) {
    showError(e, "Loading users");
    return;
  }
  state.next = res.headers.get("X-Next-After") || "";
  const total = res.headers.get("X-Total-Count");
  clear(tbody);
  if (res.data.length === 0) {
    tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 7 }, state.q ? "No user matches." : "No users yet.")));
  }
  for (const u of res.data) tbody.append(row(u));
  const first = state.history.length * pageSize + (res.data.length ? 1 : 0);
  $("users-count").textContent = total !== null
    ? `${first}–${state.history.length * pageSize + res.data.length} of ${total}` : `${res.data.length} users`;
  $("prev-page").disabled = state.history.length === 0;
  $("next-page").disabled = !state.next;
}

function row(u) {
  const status = u.enabled ? el("span", { class: "badge ok" }, "enabled") : el("span", { class: "badge bad" }, "disabled");
  const toggle = button(u.enabled ? "Disable" : "Enable", () => setEnabled(u, !u.enabled), "secondary act-" + (u.enabled ? "disable" : "enable"));
  const rotate = armed(el("button", { type: "button", class: "secondary act-rotate" }, "Rotate keys"), "Really rotate?", () => rotateKeys(u));
  const del = armed(el("button", { type: "button", class: "danger act-delete" }, "Delete"), "Really delete?", () => deleteUser(u));
  return el("tr", { "data-name": u.name, "data-id": u.id },
    el("td", {}, el("strong", {}, u.name), el("div", { class: "hint mono" }, u.id)),
    el("td", { class: "mono" }, u.access_key_id),
    el("td", { class: "status" }, status),
    el("td", {}, u.group_ids.map(groupName).join(", ") || "—"),
    el("td", { class: "rules" }, rulesSummary(u.permissions)),
    el("td", {}, fmtTime(u.created_at)),
    el("td", { class: "actions" }, button("Edit", () => openForm(u), "secondary act-edit"), toggle, rotate, del));
}

function showSecret(u, note) {
  $("secret-user").textContent = u.name;
  $("secret-akid").textContent = u.access_key_id;
  $("secret-value").textContent = u.secret_access_key;
  $("secret-note").textContent = note || "The secret access key is shown only now: store it.";
  $("secret-card").classList.remove("hidden");
  $("secret-card").scrollIntoView({ block: "nearest" });
}

function hideSecret() {
  $("secret-value").textContent = "";
  $("secret-akid").textContent = "";
  $("secret-card").classList.add("hidden");
}

async function copySecret() {
  const text = $("secret-value").textContent;
  try {
    await navigator.clipboard.writeText(text);
    flash("Secret copied to the clipboard.");
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("secret-value"));
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    flash(document.execCommand("copy") ? "Secret copied to the clipboard." : "Select the secret and copy it.");
  }
}

function openForm(u) {
  state.editing = u || null;
  $("user-form-title").textContent = u ? `Edit ${u.name}` : "New user";
  $("user-name").value = u ? u.name : "";
  $("user-enabled").checked = u ? u.enabled : true;
  $("user-rules").value = JSON.stringify(u ? u.permissions : [], null, 1);
  const sel = clear($("user-groups"));
  for (const g of state.groups) {
    sel.append(el("option", { value: g.id, selected: !!(u && u.group_ids.includes(g.id)) }, g.name));
  }
  $("user-form-card").classList.remove("hidden");
  $("user-name").focus();
}

function closeForm() {
  state.editing = null;
  $("user-form-card").classList.add("hidden");
}

async function saveForm(ev) {
  ev.preventDefault();
  let rules;
  try {
    rules = parseRules($("user-rules").value, "permissions");
  } catch (e) {
    flash(e.message, "error");
    return;
  }
  const body = {
    name: $("user-name").value.trim(),
    enabled: $("user-enabled").checked,
    permissions: rules,
    group_ids: Array.from($("user-groups").selectedOptions, (o) => o.value),
  };
  const submit = $("user-save");
  submit.disabled = true;
  try {
    if (state.editing) {
      const u = await api("PUT", "/users/" + encodeURIComponent(state.editing.id) + "?by=id", body);
      flash(`User ${u.name} saved.`);
    } else {
      const u = await api("POST", "/users", body);
      showSecret(u, u.note);
      flash(`User ${u.name} created.`);
    }
    closeForm();
    await load();
  } catch (e) {
    showError(e, state.editing ? "Saving the user" : "Creating the user");
  } finally {
    submit.disabled = false;
  }
}

async function setEnabled(u, enabled) {
  try {
    await api("PUT", "/users/" + encodeURIComponent(u.id) + "?by=id", { enabled });
    flash(`User ${u.name} ${enabled ? "enabled" : "disabled"}.`);
    await load();
  } catch (e) {
    showError(e, enabled ? "Enabling the user" : "Disabling the user");
  }
}

async function rotateKeys(u) {
  try {
    const r = await api("POST", "/users/" + encodeURIComponent(u.id) + "/rotate-keys?by=id");
    showSecret(r, r.note || "New keys: the old access key no longer works. The secret is shown only now.");
    await load();
  } catch (e) {
    showError(e, "Rotating the keys");
  }
}

async function deleteUser(u) {
  try {
    await api("DELETE", "/users/" + encodeURIComponent(u.id) + "?by=id");
    flash(`User ${u.name} deleted.`);
    await load();
  } catch (e) {
    showError(e, "Deleting the user");
  }
}

boot(async () => {
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.q = $("search").value.trim();
    state.after = "";
    state.history = [];
    load();
  });
  $("next-page").addEventListener("click", () => {
    if (!state.next) return;
    state.history.push(state.after);
    state.after = state.next;
    load();
  });
  $("prev-page").addEventListener("click", () => {
    if (state.history.length === 0) return;
    state.after = state.history.pop();
    load();
  });
  $("new-user").addEventListener("click", () => openForm(null));
  $("user-cancel").addEventListener("click", closeForm);
  $("user-form").addEventListener("submit", saveForm);
  $("copy-secret").addEventListener("click", copySecret);
  $("secret-done").addEventListener("click", hideSecret);
  await loadGroups();
  await load();
});
