// The gateway's API as the page uses it: GET routes for reads, one websocket (/ws/api)
// for every change, and websocket URLs for events and the desktop. The token lives in an
// HttpOnly cookie the page cannot read; it only ever sees it once, in the login link.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function getJson(path) {
  const reply = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new ApiError(reply.status, body.error || reply.statusText);
  return body;
}

/** Trade the login link's token for the cookie, then forget it. */
export async function login(token) {
  const reply = await fetch("/api/login", {
    headers: { Authorization: `Bearer ${token}` },
    credentials: "same-origin",
    cache: "no-store",
  });
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new ApiError(reply.status, body.error || reply.statusText);
  return body;
}

export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** The command socket: command("take", {session}) resolves with the answer, or rejects
 *  with an ApiError carrying the HTTP status the refusal has. */
class Commands {
  constructor() {
    this.socket = null;
    this.opened = null;
    this.next = 1;
    this.waiting = new Map();
  }

  open() {
    if (this.opened) return this.opened;
    this.opened = new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl("/ws/api"));
      socket.onopen = () => resolve(socket);
      socket.onmessage = (message) => this.answer(JSON.parse(message.data));
      socket.onclose = (closed) => {
        this.opened = null;
        const why = closed.reason || "the connection to the gateway closed";
        reject(new ApiError(closed.code === 1006 ? 401 : closed.code - 4000, why));
        for (const [, pending] of this.waiting) pending.reject(new ApiError(503, why));
        this.waiting.clear();
      };
    });
    return this.opened;
  }

  answer(reply) {
    const pending = this.waiting.get(reply.id);
    if (!pending) return;
    this.waiting.delete(reply.id);
    if (reply.ok) pending.resolve(reply);
    else pending.reject(new ApiError(reply.status, reply.error));
  }

  async send(op, fields = {}) {
    const socket = await this.open();
    const id = this.next++;
    const reply = new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    socket.send(JSON.stringify({ id, op, ...fields }));
    return reply;
  }
}

const commands = new Commands();
export const command = (op, fields) => commands.send(op, fields);

/** Follow a session's events: onMessage gets {type: "session"|"event"|"end"}; returns a
 *  stop function. Reconnects (from the next sequence) while `follow`, unless refused. */
export function followEvents(sessionId, { from = 1, follow = true, onMessage, onClose }) {
  let next = from;
  let socket = null;
  let stopped = false;
  let delay = 500;
  const connect = () => {
    socket = new WebSocket(wsUrl(`/ws/events/${sessionId}?from=${next}&follow=${follow ? 1 : 0}`));
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "event") next = Number(data.event.sequence) + 1;
      delay = 500;
      onMessage(data);
    };
    socket.onclose = (closed) => {
      const refused = closed.code >= 4400 && closed.code < 4500;
      if (stopped || !follow || refused || closed.code === 1000) {
        if (onClose) onClose(closed);
        return;
      }
      setTimeout(() => !stopped && connect(), delay);
      delay = Math.min(delay * 2, 8000);
    };
  };
  connect();
  return () => {
    stopped = true;
    if (socket) socket.close(1000, "page left");
  };
}

export function screenshotUrl(sessionId, ref) {
  if (!ref || !ref.name) return "";
  const [owner, file] = ref.name.split("/", 2);
  return owner === sessionId && file ? `/api/sessions/${sessionId}/screenshots/${file}` : "";
}
