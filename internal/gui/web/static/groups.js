// The groups page: create, edit (name, description, rules), delete, and
// add or remove members.
import { api, boot, $, el, clear, flash, showError, armed, button, parseRules, rulesSummary } from "./common.js";

const state = { editing: null };
const maxNamed = 20;

async function load() {
  let groups;
  try {
    groups = await api("GET", "/groups");
  } catch (e) {
    showError(e, "Loading groups");
    return;
  }
  const tbody = clear($("groups"));
  if (groups.length === 0) tbody.append(el("tr", { class: "empty" }, el("td", { colspan: 5 }, "No groups yet.")));
  for (const g of groups) tbody.append(await row(g));
}

// userNames resolves member ids to names (one GET /users/{id} each, cached).
const names = new Map();
async function userName(id) {
  if (!names.has(id)) {
    try {
      const u = await api("GET", "/users/" + encodeURIComponent(id) + "?by=id");
      names.set(id, u.name);
    } catch {
      names.set(id, id);
    }
  }
  return names.get(id);
}

async function row(g) {
  const members = el("ul", { class: "members" });
  // Names of the first few members (one lookup each); the rest counted.
  for (const id of g.member_ids.slice(0, maxNamed)) {
    const name = await userName(id);
    members.append(el("li", {}, name, " ",
      button("remove", () => removeMember(g, id, name), "link act-remove-member")));
  }
  if (g.member_ids.length > maxNamed) members.append(el("li", { class: "hint" }, `and ${g.member_ids.length - maxNamed} more`));
  const add = el("form", { class: "add-member" },
    el("input", { type: "text", placeholder: "user name or id", "aria-label": "User to add", class: "member-input" }),
    el("button", { type: "submit", class: "secondary" }, "Add"));
  add.addEventListener("submit", (ev) => {
    ev.preventDefault();
    addMember(g, add.querySelector("input").value.trim());
  });
  const del = armed(el("button", { type: "button", class: "danger act-delete" }, "Delete"), "Really delete?", () => deleteGroup(g));
  return el("tr", { "data-name": g.name },
    el("td", {}, el("strong", {}, g.name), el("div", { class: "hint mono" }, g.id)),
    el("td", {}, g.description || ""),
    el("td", {}, members, add),
    el("td", {}, rulesSummary(g.permissions)),
    el("td", { class: "actions" }, button("Edit", () => openForm(g), "secondary act-edit"), del));
}

function openForm(g) {
  state.editing = g || null;
  $("group-form-title").textContent = g ? `Edit ${g.name}` : "New group";
  $("group-name").value = g ? g.name : "";
  $("group-description").value = g ? g.description || "" : "";
  $("group-rules").value = JSON.stringify(g ? g.permissions : [], null, 1);
  $("group-form-card").classList.remove("hidden");
  $("group-name").focus();
}

function closeForm() {
  state.editing = null;
  $("group-form-card").classList.add("hidden");
}

async function saveForm(ev) {
  ev.preventDefault();
  let rules;
  try {
    rules = parseRules($("group-rules").value, "permissions");
  } catch (e) {
    flash(e.message, "error");
    return;
  }
  const body = { name: $("group-name").value.trim(), description: $("group-description").value, permissions: rules };
  try {
    if (state.editing) {
      await api("PUT", "/groups/" + encodeURIComponent(state.editing.id) + "?by=id", body);
      flash(`Group ${body.name} saved.`);
    } else {
      await api("POST", "/groups", body);
      flash(`Group ${body.name} created.`);
    }
    closeForm();
    await load();
  } catch (e) {
    showError(e, state.editing ? "Saving the group" : "Creating the group");
  }
}

async function addMember(g, user) {
  if (!user) return;
  try {
    await api("POST", "/groups/" + encodeURIComponent(g.id) + "/members?by=id", { user_id: user });
    flash(`${user} added to ${g.name}.`);
    await load();
  } catch (e) {
    showError(e, "Adding the member");
  }
}

async function removeMember(g, id, name) {
  try {
    await api("DELETE", "/groups/" + encodeURIComponent(g.id) + "/members/" + encodeURIComponent(id) + "?by=id");
    flash(`${name} removed from ${g.name}.`);
    await load();
  } catch (e) {
    showError(e, "Removing the member");
  }
}

async function deleteGroup(g) {
  try {
    await api("DELETE", "/groups/" + encodeURIComponent(g.id) + "?by=id");
    flash(`Group ${g.name} deleted.`);
    await load();
  } catch (e) {
    showError(e, "Deleting the group");
  }
}

boot(async () => {
  $("new-group").addEventListener("click", () => openForm(null));
  $("group-cancel").addEventListener("click", closeForm);
  $("group-form").addEventListener("submit", saveForm);
  await load();
});
