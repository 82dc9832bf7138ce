// The page: logs in from the link's #token= fragment (then removes it from the address),
// learns who it is, and routes between the session list, a session and its replay.
import { ApiError, getJson, login } from "./api.js";
import { clear, h, toast } from "./dom.js";
import { renderList } from "./list.js";
import { renderReplay } from "./replay.js";
import { renderSession } from "./session.js";

const main = document.getElementById("main");
let leave = () => {};
let me = null;

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else if (location.pathname !== path) history.pushState(null, "", path);
  route();
}

function crumbs(parts) {
  const nav = clear(document.getElementById("crumbs"));
  for (const [label, path] of parts) {
    nav.append(h("span.sep", "/"), path
      ? h("a", { href: path, onclick: (e) => { e.preventDefault(); navigate(path); } }, label)
      : h("span", label));
  }
}

function route() {
  leave();
  leave = () => {};
  const path = location.pathname;
  const replay = path.match(/^\/sessions\/([A-Za-z0-9_-]+)\/replay$/);
  const session = path.match(/^\/sessions\/([A-Za-z0-9_-]+)$/);
  if (me.session_id && !(session || replay)) return navigate(`/sessions/${me.session_id}`, { replace: true });
  if (replay) {
    crumbs([["sessions", me.session_id ? null : "/"], [replay[1], `/sessions/${replay[1]}`], ["replay", null]]);
    leave = renderReplay(main, me, replay[1], navigate);
  } else if (session) {
    crumbs([["sessions", me.session_id ? null : "/"], [session[1], null]]);
    leave = renderSession(main, me, session[1], navigate);
  } else {
    crumbs([["sessions", null]]);
    leave = renderList(main, me, navigate);
  }
}

function loggedOut(message) {
  clear(main).append(h("section.card.login",
    h("h2", "Sign in to watch sessions"),
    h("p", message),
    h("p.sub", "Open the link `deskpilot up` printed (it ends in #token=…), or one made by `deskpilot token SESSION` for a single session.")));
}

async function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token) {
    // The token leaves the address bar and history before anything else happens.
    history.replaceState(null, "", location.pathname + location.search);
    try {
      await login(token);
    } catch (error) {
      return loggedOut(`That link did not work: ${error.message}`);
    }
  }
  try {
    me = await getJson("/api/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return loggedOut(error.message);
    return loggedOut(`The gateway did not answer: ${error.message}`);
  }
  const who = document.getElementById("who");
  who.textContent = `${me.subject} · ${me.role}${me.session_id ? " · one session" : ""}`;
  who.title = `tenant ${me.tenant}; token valid until ${new Date(me.expires_at * 1000).toLocaleString()}`;
  window.addEventListener("popstate", route);
  route();
}

start().catch((error) => toast(error.message, "error"));
