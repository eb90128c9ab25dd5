// The sign-in page: the bootstrap password, an IAM admin user's key pair,
// or one button per enabled OIDC provider.
import { api, $, el, clear, ApiError } from "./common.js";

const errorMessages = {
  oidc_state: "Single sign-on failed: the sign-in request expired or was not started here (state mismatch). Try again.",
  oidc_nonce: "Single sign-on failed: the identity provider's answer did not match this sign-in (nonce mismatch). Try again.",
  oidc_denied: "Single sign-on worked, but your groups grant no admin rights on dgp. Ask an administrator to map you to a group with the admin rule.",
  oidc_failed: "Single sign-on failed: the identity provider's answer could not be verified.",
  oidc_provider: "Single sign-on failed: that provider is unknown, disabled or unreachable.",
  rate_limited: "Single sign-on refused: too many failed sign-ins from this address. Wait a minute, then try again.",
};

function showLoginError(text) {
  const p = $("login-error");
  p.textContent = text;
  p.classList.remove("hidden");
}

function nextURL() {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only paths of the GUI itself: never an open redirect.
  return /^\/_\/ui\/[a-z]*$/.test(next) ? next : "/_/ui/";
}

async function signIn(body, submit) {
  submit.disabled = true;
  $("login-error").classList.add("hidden");
  try {
    await api("POST", "/login", body);
    location.assign(nextURL());
  } catch (e) {
    showLoginError(e instanceof ApiError ? e.message : String(e));
  } finally {
    submit.disabled = false;
  }
}

async function loadProviders() {
  let list;
  try {
    list = await api("GET", "/oidc/providers", undefined, { allow401: true });
  } catch (e) {
    return; // 404: this instance has no OIDC sign-in; show nothing
  }
  if (!Array.isArray(list) || list.length === 0) return;
  const box = clear($("oidc-buttons"));
  for (const p of list) {
    box.append(el("a", { class: "button oidc-login", href: p.login_url, "data-provider": p.name },
      "Sign in with " + (p.display_name || p.name)));
  }
  $("oidc").classList.remove("hidden");
}

function main() {
  const params = new URLSearchParams(location.search);
  const code = params.get("error");
  if (code) showLoginError(errorMessages[code] || `Sign-in failed (${code}).`);
  const msg = sessionStorage.getItem("dgp-signout-message");
  if (msg) {
    sessionStorage.removeItem("dgp-signout-message");
    showLoginError(msg);
  } else if (params.has("signed_out") && !code) {
    const p = $("login-error");
    p.textContent = "You are signed out.";
    p.classList.remove("hidden", "error");
  }
  $("login-password").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn({ password: $("password").value }, $("login-password-submit"));
  });
  $("login-keys").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn({ access_key_id: $("access-key-id").value.trim(), secret_access_key: $("secret-access-key").value },
      $("login-keys-submit"));
  });
  loadProviders();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
