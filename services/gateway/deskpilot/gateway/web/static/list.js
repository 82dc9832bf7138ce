// The session list and the form that starts a session.
import { command, getJson } from "./api.js";
import { clear, h, timeAgo, toast } from "./dom.js";
import { cost, statusLabel } from "./events.js";

const TOOL_SETS = [
  ["", "chosen from the model"],
  ["TOOL_SET_20260801", "computer toolset 2026-08-01"],
  ["TOOL_SET_20251124", "computer 2025-11-24 (zoom)"],
  ["TOOL_SET_20250429", "computer 2025-01-24, editor 2025-04-29"],
  ["TOOL_SET_20250124", "computer 2025-01-24"],
  ["TOOL_SET_20241022", "computer 2024-10-22"],
];
const DISPLAYS = ["1280x800", "1024x768", "1366x768", "1920x1080"];

export function statusBadge(session) {
  const [label, tone] = statusLabel(session.status);
  return h(`span.badge.${tone}`, { "data-status": session.status }, label);
}

export function standInBadge(session) {
  return session.model_is_stand_in
    ? h("span.badge.standin", { title: "answers come from the scripted Messages API stand-in, not Claude" }, "stand-in")
    : null;
}

function startForm(navigate) {
  const task = h("textarea", { name: "task", rows: 3, required: true, placeholder: "What should Claude do? e.g. open Firefox and find the weather in Paris" });
  const model = h("input", { name: "model", placeholder: "default model", autocomplete: "off" });
  const toolSet = h("select", { name: "tool_set" }, TOOL_SETS.map(([v, l]) => h("option", { value: v }, l)));
  const display = h("select", { name: "display" }, DISPLAYS.map((d) => h("option", { value: d }, d)));
  const domains = h("input", { name: "allowed_domains", placeholder: "example.com, wikipedia.org", autocomplete: "off" });
  const button = h("button.primary", { type: "submit" }, "Start session");
  const form = h("form.card.start", {
    async onsubmit(e) {
      e.preventDefault();
      button.disabled = true;
      try {
        const reply = await command("create", {
          task: task.value,
          model: model.value.trim(),
          tool_set: toolSet.value,
          display: display.value,
          allowed_domains: domains.value.split(/[\s,]+/).filter(Boolean),
          request_id: crypto.randomUUID(),
        });
        navigate(`/sessions/${reply.session.id}`);
      } catch (error) {
        toast(`Could not start: ${error.message}`, "error");
      } finally {
        button.disabled = false;
      }
    },
  },
    h("h2", "New session"),
    h("label.wide", h("span", "Task"), task),
    h("div.row",
      h("label", h("span", "Model"), model),
      h("label", h("span", "Tool set"), toolSet),
      h("label", h("span", "Display"), display)),
    h("label.wide", h("span", "Allowed domains"), domains),
    h("div.actions", button));
  return form;
}

function row(session, navigate) {
  const link = `/sessions/${session.id}`;
  const open = (e) => {
    e.preventDefault();
    navigate(link);
  };
  return h("tr", { dataset: { session: session.id } },
    h("td.task", h("a", { href: link, onclick: open }, session.config?.task || "(no task)"),
      h("div.sub", session.id)),
    h("td", statusBadge(session), session.controlled_by ? h("div.sub", `driven by ${session.controlled_by}`) : null),
    h("td.num", String(session.steps || 0)),
    h("td.num", cost(session)),
    h("td", h("span", session.config?.model || ""), " ", standInBadge(session)),
    h("td.sub", timeAgo(session.updated_at || session.created_at)));
}

export function renderList(main, me, navigate) {
  const body = h("tbody");
  const empty = h("p.muted.empty", "No sessions yet.");
  const table = h("table.sessions",
    h("thead", h("tr", ["Task", "Status", "Steps", "Cost", "Model", "Updated"].map((t) => h("th", t)))),
    body);
  const list = h("section.card.list", h("h2", "Sessions"), table, empty);
  clear(main).append(h("div.list-page", me.may_steer ? startForm(navigate) : null, list));
  let timer = 0;
  let alive = true;
  const refresh = async () => {
    try {
      const { sessions = [] } = await getJson("/api/sessions?page_size=100");
      clear(body).append(...sessions.map((s) => row(s, navigate)));
      empty.hidden = sessions.length > 0;
      table.hidden = sessions.length === 0;
    } catch (error) {
      toast(`Could not list sessions: ${error.message}`, "error");
    }
    if (alive) timer = setTimeout(refresh, 3000);
  };
  refresh();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
