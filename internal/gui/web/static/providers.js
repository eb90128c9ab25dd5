// The auth providers page: OIDC providers for signing in to the GUI.
import { api, boot, $, el, clear, flash, showError, armed, button } from "./common.js";

const state = { editing: null };

async function load() {
  let list;
  try {
    list = await api("GET", "/auth-providers");
  } catch (e) {
    showError(e, "Loading providers");
    return;
  }
  const tbody = clear($("providers"));
  if (list.length === 0) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 7 }, "No providers yet.")));
  for (const p of list) {
    const del = armed(el("button", { type: "button", class: "danger act-delete" }, "Delete"), "Really delete?", () => remove(p));
    tbody.append(el("tr", { "data-name": p.name },
      el("td", {}, el("strong", {}, p.name), el("div", { class: "hint" }, p.type || "oidc")),
      el("td", {}, p.display_name || ""),
      el("td", { class: "mono" }, p.issuer_url || ""),
      el("td", { class: "mono" }, p.client_id || ""),
      el("td", {}, p.enabled ? el("span", { class: "badge ok" }, "enabled") : el("span", { class: "badge muted" }, "disabled")),
      el("td", {}, String(p.priority ?? 0)),
      el("td", { class: "actions" }, button("Edit", () => openForm(p), "secondary act-edit"), del)));
  }
}

function openForm(p) {
  state.editing = p || null;
  $("provider-form-title").textContent = p ? `Edit ${p.name}` : "New provider";
  $("p-name").value = p ? p.name : "";
  $("p-display-name").value = p ? p.display_name || "" : "";
  $("p-issuer-url").value = p ? p.issuer_url || "" : "";
  $("p-client-id").value = p ? p.client_id || "" : "";
  $("p-client-secret").value = p ? p.client_secret || "" : "";
  $("p-scopes").value = p ? (p.scopes || []).join(" ") : "openid email profile";
  $("p-redirect-url").value = p ? p.redirect_url || "" : "";
  $("p-priority").value = p ? String(p.priority ?? 0) : "0";
  $("p-enabled").checked = p ? p.enabled : true;
  $("p-group-mappings").value = JSON.stringify(p && p.group_mappings ? p.group_mappings : [], null, 1);
  $("provider-form-card").classList.remove("hidden");
}

function closeForm() {
  state.editing = null;
  $("provider-form-card").classList.add("hidden");
}

async function save(ev) {
  ev.preventDefault();
  const body = {
    name: $("p-name").value.trim(),
    type: "oidc",
    display_name: $("p-display-name").value,
    issuer_url: $("p-issuer-url").value.trim(),
    client_id: $("p-client-id").value.trim(),
    client_secret: $("p-client-secret").value,
    scopes: $("p-scopes").value.split(/\s+/).filter(Boolean),
    priority: Number($("p-priority").value || 0),
    enabled: $("p-enabled").checked,
  };
  // redirect_url and group_mappings exist on instances with OIDC sign-in;
  // send them only when set, so an older API does not refuse the form.
  const redirect = $("p-redirect-url").value.trim();
  if (redirect || (state.editing && "redirect_url" in state.editing)) body.redirect_url = redirect;
  const mappingsText = $("p-group-mappings").value.trim();
  if (mappingsText && mappingsText !== "[]" || (state.editing && "group_mappings" in state.editing)) {
    try {
      body.group_mappings = JSON.parse(mappingsText || "[]");
    } catch (e) {
      flash(`group_mappings: not valid JSON (${e.message})`, "error");
      return;
    }
  }
  try {
    if (state.editing) {
      await api("PUT", "/auth-providers/" + encodeURIComponent(state.editing.id) + "?by=id", body);
      flash(`Provider ${body.name} saved.`);
    } else {
      await api("POST", "/auth-providers", body);
      flash(`Provider ${body.name} created.`);
    }
    closeForm();
    await load();
  } catch (e) {
    showError(e, state.editing ? "Saving the provider" : "Creating the provider");
  }
}

async function remove(p) {
  try {
    await api("DELETE", "/auth-providers/" + encodeURIComponent(p.id) + "?by=id");
    flash(`Provider ${p.name} deleted.`);
    await load();
  } catch (e) {
    showError(e, "Deleting the provider");
  }
}

boot(async () => {
  $("callback-url").textContent = location.origin + "/_/api/admin/oidc/callback";
  $("new-provider").addEventListener("click", () => openForm(null));
  $("provider-cancel").addEventListener("click", closeForm);
  $("provider-form").addEventListener("submit", save);
  await load();
});
