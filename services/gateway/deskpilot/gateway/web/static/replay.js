// Replay of a session from its events and screenshots: a timeline scrubber steps through
// every event; the desktop pane shows the latest screenshot at that point, the chat and
// the log what had happened by then.
import { followEvents } from "./api.js";
import { append, clear, h } from "./dom.js";
import { payloadOf, screenshotOf, summary, timeOf } from "./events.js";
import { standInBadge, statusBadge } from "./list.js";
import { Chat, EventLog } from "./views.js";

export function renderReplay(main, me, sessionId, navigate) {
  const events = [];
  const chat = new Chat(sessionId);
  const log = new EventLog(sessionId, { onPick: (seq) => seek(events.findIndex((e) => Number(e.sequence) === seq)) });
  const picture = h("img.replay-shot", { alt: "the desktop at this point" });
  const blank = h("div.desktop-state", "no screenshot yet at this point");
  const scrubber = h("input.scrubber", { type: "range", min: 0, max: 0, value: 0, "aria-label": "timeline" });
  const position = h("span.position");
  const caption = h("div.caption");
  const play = h("button.primary", { type: "button", "data-action": "play" }, "Play");
  const speed = h("select", { "aria-label": "speed" }, ["1", "2", "4", "8"].map((s) => h("option", { value: s }, `${s}×`)));
  const title = h("h1.title", "Replay");
  const badges = h("div.badges");
  const back = h("a.button.ghost", { href: `/sessions/${sessionId}`, onclick: (e) => { e.preventDefault(); navigate(`/sessions/${sessionId}`); } }, "Live page");

  clear(main).append(h("div.session-page.replay",
    h("div.session-head", h("div.headline", title, badges), h("div.controls", back)),
    h("div.timeline.card", play, speed, scrubber, position),
    h("div.session-grid",
      h("section.card.desk", h("div.card-head", h("h3", "Desktop"), caption), h("div.desktop.replay-frame", picture, blank)),
      h("section.card.side", h("h3", "Chat"), chat.el)),
    log.el));

  let index = -1;
  function seek(target) {
    target = Math.max(0, Math.min(events.length - 1, target));
    if (target < index) {
      chat.reset();
      log.reset();
      index = -1;
    }
    for (let i = index + 1; i <= target; i++) {
      chat.add(events[i]);
      log.add(events[i]);
    }
    index = target;
    scrubber.value = String(target);
    const event = events[target];
    if (!event) return;
    position.textContent = `${target + 1} / ${events.length} · ${timeOf(event)}`;
    caption.textContent = summary(event);
    let shot = "";
    for (let i = target; i >= 0 && !shot; i--) shot = screenshotOf(sessionId, events[i]);
    picture.hidden = !shot;
    blank.hidden = Boolean(shot);
    if (shot && picture.getAttribute("src") !== shot) picture.src = shot;
    log.mark(Number(event.sequence));
  }

  scrubber.addEventListener("input", () => seek(Number(scrubber.value)));
  let timer = 0;
  const pause = () => {
    clearInterval(timer);
    timer = 0;
    play.textContent = "Play";
  };
  play.addEventListener("click", () => {
    if (timer) return pause();
    if (index >= events.length - 1) seek(0);
    play.textContent = "Pause";
    timer = setInterval(() => {
      // Deltas go by quickly: a step's streamed text is one tick, not hundreds.
      let next = index + 1;
      while (next < events.length - 1 && payloadOf(events[next])[0] === "model_delta") next++;
      seek(next);
      if (index >= events.length - 1) pause();
    }, 700 / Number(speed.value));
  });

  const stop = followEvents(sessionId, {
    follow: false,
    onMessage(message) {
      if (message.type === "session") {
        title.textContent = `Replay: ${message.session.config?.task || sessionId}`;
        append(clear(badges), [statusBadge(message.session), standInBadge(message.session)]);
        chat.modelName = message.session.model_is_stand_in ? "stand-in model" : "Claude";
      } else if (message.type === "event") {
        events.push(message.event);
      } else if (message.type === "end") {
        scrubber.max = String(Math.max(0, events.length - 1));
        seek(events.length - 1);
      }
    },
  });
  return () => {
    pause();
    stop();
  };
}
