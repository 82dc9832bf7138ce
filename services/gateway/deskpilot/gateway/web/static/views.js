// The parts a live session page and a replay share: the chat and the event log, each
// built from events one at a time.
import { clear, h } from "./dom.js";
import { KINDS, describeCall, payloadOf, screenshotOf, summary, timeOf } from "./events.js";

/** The conversation: the person's messages, the model's text and thinking (streamed in
 *  from deltas, then replaced by the complete response), actions and screenshots. */
export class Chat {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.el = h("div.chat-log", { "aria-live": "polite" });
    this.streaming = null; // {step, text, thinking} bubble being written
    this.modelName = "Claude"; // "stand-in model" where the stand-in answers
    // Keep showing the newest message unless the person scrolled up to read; also when
    // the chat shrinks (a confirmation appears above it).
    this.follow = true;
    this.el.addEventListener("scroll", () => {
      this.follow = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 40;
    });
    new ResizeObserver(() => this.stick()).observe(this.el);
  }

  stick() {
    if (this.follow) this.el.scrollTop = this.el.scrollHeight;
  }

  reset() {
    clear(this.el);
    this.streaming = null;
  }

  add(event) {
    const [name, p] = payloadOf(event);
    if (name === "user_message") this.bubble("user", p.author || "you", p.text);
    else if (name === "model_delta") this.delta(event.step, p);
    else if (name === "model_response") this.response(event.step, p);
    else if (name === "confirmation_requested") this.note("attention", `Waiting for approval: ${describeCall(p.call)}`);
    else if (name === "confirmation_resolved") this.note(p.approved ? "ok" : "bad", summary(event));
    else if (name === "control_taken" || name === "control_released") this.note("attention", summary(event));
    else if (name === "session_finished") this.note("done", summary(event));
    else if (name === "action_executed") {
      const url = screenshotOf(this.sessionId, event);
      if (url) {
        const img = h("img", { src: url, alt: "screenshot after the action", onload: () => this.stick() });
        this.el.append(h("a.shot", { href: url, target: "_blank", rel: "noopener" }, img));
      }
    }
    this.stick();
  }

  bubble(who, author, text) {
    const el = h(`div.msg.${who}`, h("div.author", author), h("div.text", text));
    this.el.append(el);
    return el;
  }

  note(tone, text) {
    this.el.append(h(`div.note.${tone}`, text));
  }

  ensureStream(step) {
    if (!this.streaming || this.streaming.step !== step) {
      const thinking = h("details.thinking", { hidden: true }, h("summary", "thinking"), h("div.text"));
      const text = h("div.text");
      const el = h("div.msg.model.streaming", h("div.author", this.modelName), thinking, text);
      this.el.append(el);
      this.streaming = { step, el, text, thinking };
    }
    return this.streaming;
  }

  delta(step, p) {
    const s = this.ensureStream(step);
    if (p.kind === "DELTA_KIND_THINKING") {
      s.thinking.hidden = false;
      s.thinking.lastChild.textContent += p.text || "";
    } else {
      s.text.textContent += p.text || "";
    }
  }

  response(step, p) {
    const s = this.ensureStream(step);
    s.el.classList.remove("streaming");
    if (p.thinking) {
      s.thinking.hidden = false;
      s.thinking.lastChild.textContent = p.thinking;
    }
    s.text.textContent = p.text || "";
    if (!p.text) s.text.hidden = true;
    for (const call of p.tool_calls || []) s.el.append(h("div.call", describeCall(call)));
    this.streaming = null;
  }
}

const FILTERS = ["all", "chat", "model", "action", "safety", "control", "session"];

/** Every event, one line each, filterable by kind and text; deltas are folded away
 *  unless the "model" filter asks for them. */
export class EventLog {
  constructor(sessionId, { onPick } = {}) {
    this.sessionId = sessionId;
    this.onPick = onPick;
    this.kind = "all";
    this.text = "";
    this.rows = [];
    this.list = h("ol.events");
    const chips = FILTERS.map((f) => h(`button.chip${f === "all" ? ".on" : ""}`, {
      type: "button",
      dataset: { filter: f },
      onclick: () => {
        this.kind = f;
        for (const c of chips) c.classList.toggle("on", c === chips[FILTERS.indexOf(f)]);
        this.apply();
      },
    }, f));
    const search = h("input.search", {
      type: "search", placeholder: "filter events", "aria-label": "filter events",
      oninput: (e) => { this.text = e.target.value.toLowerCase(); this.apply(); },
    });
    this.count = h("span.sub");
    this.el = h("section.card.log", h("div.log-head", h("h3", "Event log"), h("div.chips", chips), search, this.count), this.list);
  }

  reset() {
    clear(this.list);
    this.rows = [];
  }

  add(event) {
    const [name] = payloadOf(event);
    const kind = KINDS[name] || "session";
    const url = screenshotOf(this.sessionId, event);
    const line = summary(event);
    const li = h(`li.ev.${kind}`, { dataset: { kind, name, seq: event.sequence } },
      h("span.seq", `#${event.sequence}`),
      h("span.time", timeOf(event)),
      h("span.kind", name.replace(/_/g, " ")),
      h("span.what", line),
      url ? h("a.thumb", { href: url, target: "_blank", rel: "noopener" }, h("img", { src: url, alt: "screenshot", loading: "lazy" })) : null);
    if (this.onPick) li.addEventListener("click", () => this.onPick(Number(event.sequence)));
    const row = { li, kind, name, text: line.toLowerCase() };
    this.rows.push(row);
    this.show(row);
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.append(li);
    if (stick) this.list.scrollTop = this.list.scrollHeight;
    this.count.textContent = `${this.rows.length} events`;
  }

  show(row) {
    const kindOk = this.kind === "all" ? row.name !== "model_delta" : row.kind === this.kind;
    row.li.hidden = !(kindOk && (!this.text || row.text.includes(this.text)));
  }

  apply() {
    for (const row of this.rows) this.show(row);
  }

  mark(sequence) {
    for (const row of this.rows) row.li.classList.toggle("current", Number(row.li.dataset.seq) === sequence);
    const current = this.rows.find((r) => Number(r.li.dataset.seq) === sequence);
    if (current && !current.li.hidden) {
      // Scroll the log alone, never the page around it.
      const { offsetTop, offsetHeight } = current.li;
      const list = this.list;
      if (offsetTop < list.scrollTop || offsetTop + offsetHeight > list.scrollTop + list.clientHeight) {
        list.scrollTop = offsetTop - list.clientHeight / 2;
      }
    }
  }
}
