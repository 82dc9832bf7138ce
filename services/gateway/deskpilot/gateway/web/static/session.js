// A session's page: the live desktop, the chat, a pending confirmation with the gate's
// reasons, take-over, cancel and delete, and every event in a log.
import { command, followEvents, getJson } from "./api.js";
import { Desktop } from "./desktop.js";
import { append, clear, h, toast } from "./dom.js";
import { cost, describeCall, hasEnded, payloadOf } from "./events.js";
import { standInBadge, statusBadge } from "./list.js";
import { Chat, EventLog } from "./views.js";

export function renderSession(main, me, sessionId, navigate) {
  let session = null;
  const confirmations = new Map(); // id -> ConfirmationRequested
  const chat = new Chat(sessionId);
  const log = new EventLog(sessionId);
  const desktopBox = h("div.desktop");
  const desktop = new Desktop(desktopBox, sessionId);

  const title = h("h1.title");
  const badges = h("div.badges");
  const facts = h("div.facts");
  const controls = h("div.controls");
  const confirmBox = h("div.confirm-slot");
  const composer = h("textarea", { rows: 2, placeholder: "Message Claude…", "aria-label": "message" });
  const sendButton = h("button.primary", { type: "submit" }, "Send");
  const form = h("form.composer", {
    async onsubmit(e) {
      e.preventDefault();
      const text = composer.value.trim();
      if (!text) return;
      sendButton.disabled = true;
      try {
        await act("send", { text });
        composer.value = "";
      } finally {
        sendButton.disabled = false;
      }
    },
  }, composer, sendButton);
  composer.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  clear(main).append(h("div.session-page",
    h("div.session-head", h("div.headline", title, badges), facts, controls),
    h("div.session-grid",
      h("section.card.desk", h("div.card-head", h("h3", "Desktop"), h("span.sub.mode")), desktopBox),
      h("section.card.side", confirmBox, h("h3", "Chat"), chat.el, me.may_steer ? form : h("p.sub", "You are watching: only people who may steer can write."))),
    log.el));

  async function act(op, fields = {}) {
    try {
      const reply = await command(op, { session: sessionId, ...fields });
      if (reply.session) update(reply.session);
      return reply;
    } catch (error) {
      toast(`${op}: ${error.message}`, "error");
      throw error;
    }
  }

  const holdsLease = () => session && me.may_steer && session.controlled_by === me.subject;

  function renderControls() {
    clear(controls);
    if (!session) return;
    const ended = hasEnded(session);
    const button = (label, cls, onclick, attrs = {}) => h(`button.${cls}`, { type: "button", onclick, ...attrs }, label);
    if (me.may_steer && !ended) {
      if (holdsLease()) {
        const note = h("input.handback", { placeholder: "what you did, for the model", "aria-label": "hand-back note" });
        controls.append(note, button("Hand back", "primary", () => act("release", { note: note.value.trim() }).catch(() => {}), { "data-action": "release" }));
      } else if (!session.controlled_by) {
        controls.append(button("Take control", "primary", () => act("take").catch(() => {}), { "data-action": "take" }));
      }
      controls.append(button("Cancel", "ghost", () => {
        if (confirm("Cancel this session? The agent stops; the desktop is kept until you delete it.")) act("cancel", { reason: "cancelled from the web page" }).catch(() => {});
      }, { "data-action": "cancel" }));
    }
    if (ended) controls.append(h("a.button.ghost", { href: `/sessions/${sessionId}/replay`, onclick: (e) => { e.preventDefault(); navigate(`/sessions/${sessionId}/replay`); } }, "Replay"));
    if (me.may_steer) {
      controls.append(button("Delete", "danger", async () => {
        if (!confirm("Delete this session? Its sandbox stops; its history stays for replay.")) return;
        await act("delete", { keep_history: true }).catch(() => null);
        navigate("/");
      }, { "data-action": "delete" }));
    }
  }

  function renderConfirmation() {
    clear(confirmBox);
    const id = session?.pending_confirmation_id;
    if (!id) return;
    const request = confirmations.get(id);
    const reasons = request?.reasons || [];
    const reason = h("input.deny-reason", { placeholder: "reason (optional)", "aria-label": "denial reason" });
    const decide = (approve) => act("resolve", { confirmation_id: id, approve, reason: approve ? "" : reason.value.trim() }).catch(() => {});
    confirmBox.append(h("div.confirm", { "data-confirmation": id },
      h("div.confirm-title", "Approve this action?"),
      h("code.call", request ? describeCall(request.call) : "…"),
      reasons.length ? h("ul.reasons", reasons.map((r) => h("li", h("span.rule", r.rule_id || r.category || "rule"), " ", r.message))) : null,
      me.may_steer
        ? h("div.confirm-actions", reason,
          h("button.danger", { type: "button", "data-action": "deny", onclick: () => decide(false) }, "Deny"),
          h("button.primary", { type: "button", "data-action": "approve", onclick: () => decide(true) }, "Approve"))
        : h("p.sub", "A person who may steer this session must decide.")));
  }

  function update(next) {
    session = next;
    title.textContent = session.config?.task || session.id;
    append(clear(badges), [statusBadge(session), standInBadge(session)]);
    const steps = Number(session.steps || 0);
    append(clear(facts), [
      h("span", `${steps} step${steps === 1 ? "" : "s"}`), h("span", cost(session)),
      h("span", session.config?.model || ""),
      session.controlled_by ? h("span.badge.attention", `${session.controlled_by} has control`) : null]);
    chat.modelName = session.model_is_stand_in ? "stand-in model" : "Claude";
    renderControls();
    renderConfirmation();
    main.querySelector(".mode").textContent = holdsLease() ? "you have control" : "view only";
    desktop.setViewOnly(!holdsLease());
    if (hasEnded(session) || !session.sandbox_id) desktop.disconnect(hasEnded(session) ? "the session has ended" : "no desktop yet");
    else desktop.connect();
    composer.disabled = hasEnded(session);
  }

  let refreshing = null;
  const refresh = () => {
    refreshing ??= getJson(`/api/sessions/${sessionId}`)
      .then((r) => update(r.session))
      .catch((e) => toast(e.message, "error"))
      .finally(() => (refreshing = null));
  };
  const changes = new Set(["status_changed", "control_taken", "control_released", "confirmation_requested", "confirmation_resolved", "session_finished", "model_response"]);

  // The events websocket cannot say why it was refused (a browser sees no status), so
  // the page asks over HTTP first and shows the gateway's reason.
  let stop = () => {};
  let left = false;
  getJson(`/api/sessions/${sessionId}`).then(({ session: first }) => {
    if (left) return;
    update(first);
    stop = follow();
  }).catch((error) => {
    desktop.disconnect();
    clear(main).append(h("section.card.login", h("h2", "This session cannot be shown"), h("p", error.message)));
    toast(error.message, "error");
  });

  const follow = () => followEvents(sessionId, {
    onMessage(message) {
      if (message.type === "session") update(message.session);
      if (message.type !== "event") return;
      const event = message.event;
      const [name, p] = payloadOf(event);
      if (name === "confirmation_requested") confirmations.set(p.confirmation_id, p);
      chat.add(event);
      log.add(event);
      if (changes.has(name)) refresh();
    },
    onClose(closed) {
      if (closed.code >= 4400) {
        toast(closed.reason || "the gateway closed the event stream", "error");
        if (closed.code === 4404) navigate("/");
      }
    },
  });

  return () => {
    left = true;
    stop();
    desktop.disconnect();
  };
}
