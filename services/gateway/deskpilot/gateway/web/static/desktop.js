// The live desktop: noVNC's RFB client on /ws/vnc/<id>, through the gateway, never to the
// sandbox. View-only here is only a courtesy: the gateway drops the input of anyone who
// does not hold the control lease, whatever this page does.
import RFB from "/vendor/novnc/core/rfb.js";
import { wsUrl } from "./api.js";
import { h, clear } from "./dom.js";

export class Desktop {
  constructor(container, sessionId) {
    this.container = container;
    this.sessionId = sessionId;
    this.rfb = null;
    this.viewOnly = true;
    this.wanted = false;
    this.retry = 0;
    this.state = h("div.desktop-state", "connecting to the desktop…");
    this.screen = h("div.desktop-screen");
    clear(container).append(this.screen, this.state);
  }

  connect() {
    this.wanted = true;
    if (this.rfb) return;
    this.say("connecting to the desktop…");
    const rfb = new RFB(this.screen, wsUrl(`/ws/vnc/${this.sessionId}`), { wsProtocols: ["binary"] });
    rfb.scaleViewport = true;
    rfb.resizeSession = false;
    rfb.viewOnly = this.viewOnly;
    rfb.focusOnClick = true;
    rfb.background = "#1d2433";
    rfb.addEventListener("connect", () => {
      this.retry = 0;
      this.say("");
      this.container.classList.add("live");
    });
    rfb.addEventListener("disconnect", (e) => {
      this.rfb = null;
      this.container.classList.remove("live");
      if (!this.wanted) return;
      const delay = Math.min(1000 * 2 ** this.retry++, 10000);
      this.say(e.detail.clean ? "the desktop closed; reconnecting…" : "desktop unreachable; retrying…");
      setTimeout(() => this.wanted && this.connect(), delay);
    });
    this.rfb = rfb;
  }

  disconnect(reason = "") {
    this.wanted = false;
    if (this.rfb) this.rfb.disconnect();
    this.rfb = null;
    this.container.classList.remove("live");
    this.say(reason);
  }

  setViewOnly(viewOnly) {
    this.viewOnly = viewOnly;
    this.container.classList.toggle("controlling", !viewOnly);
    if (this.rfb) {
      this.rfb.viewOnly = viewOnly;
      if (!viewOnly) this.rfb.focus();
    }
  }

  say(text) {
    this.state.textContent = text;
    this.state.hidden = !text;
  }
}
