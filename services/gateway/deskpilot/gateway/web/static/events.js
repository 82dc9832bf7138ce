// What the page shows of sessions and events: names, one-line summaries, kinds to filter.
import { screenshotUrl } from "./api.js";

export const STATUS = {
  SESSION_STATUS_STARTING: ["starting", "busy"],
  SESSION_STATUS_RUNNING: ["running", "busy"],
  SESSION_STATUS_WAITING_CONFIRMATION: ["needs approval", "attention"],
  SESSION_STATUS_WAITING_INPUT: ["waiting for you", "idle"],
  SESSION_STATUS_PAUSED: ["person in control", "attention"],
  SESSION_STATUS_FINISHED: ["finished", "done"],
  SESSION_STATUS_CANCELLED: ["cancelled", "done"],
  SESSION_STATUS_FAILED: ["failed", "bad"],
};
const ENDED = new Set(["SESSION_STATUS_FINISHED", "SESSION_STATUS_CANCELLED", "SESSION_STATUS_FAILED"]);

export const statusLabel = (status) => (STATUS[status] || [String(status || "unknown").toLowerCase(), "idle"]);
export const hasEnded = (session) => ENDED.has(session.status);
// A stand-in session's tokens are priced as Claude's would be (cost limits still apply),
// but nothing was paid: say so, as the CLI does, instead of a dollar figure.
export const cost = (session) => (session.model_is_stand_in
  ? "no cost (stand-in)"
  : `$${Number(session.usage?.cost_usd || 0).toFixed(3)}`);

// Every payload of deskpilot.v1.Event, grouped for the log's filter.
export const KINDS = {
  session_created: "session", status_changed: "session", session_finished: "session",
  user_message: "chat", model_request: "model", model_delta: "model", model_response: "model",
  model_retry: "model", action_proposed: "action", safety_verdict: "safety",
  confirmation_requested: "safety", confirmation_resolved: "safety", action_executed: "action",
  content_scanned: "safety", tool_result: "action", control_taken: "control",
  control_released: "control",
};

export function payloadOf(event) {
  for (const name of Object.keys(KINDS)) if (name in event) return [name, event[name]];
  return ["unknown", {}];
}

const short = (value, n = 140) => {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "");
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
};
const statusName = (s) => statusLabel(s)[0];

export function describeCall(call) {
  if (!call) return "";
  const input = call.input || {};
  if (input.command !== undefined) return `${call.name}: ${input.command}`;
  if (input.action) {
    const where = input.coordinate ? ` at ${input.coordinate.join(", ")}` : "";
    const text = input.text ? ` “${short(input.text, 60)}”` : "";
    return `${call.name}: ${input.action}${where}${text}`;
  }
  return `${call.name} ${short(input, 100)}`;
}

/** One line saying what an event is. */
export function summary(event) {
  const [name, p] = payloadOf(event);
  switch (name) {
    case "session_created": return `session created: ${short(p.session?.config?.task || "")}`;
    case "status_changed": return `status: ${statusName(p.from)} → ${statusName(p.to)}${p.reason ? ` (${p.reason})` : ""}`;
    case "user_message": return `${p.author || "user"}: ${short(p.text)}`;
    case "model_request": return `request to ${p.model} (${p.message_count || 0} messages, ${p.image_count || 0} images)`;
    case "model_delta": return `${p.kind === "DELTA_KIND_THINKING" ? "thinking" : "text"}: ${short(p.text, 80)}`;
    case "model_response": return `model: ${short(p.text || (p.tool_calls || []).map(describeCall).join("; ") || p.stop_reason)}`;
    case "model_retry": return `retry ${p.attempt} in ${Number(p.wait_seconds || 0).toFixed(1)} s: ${p.reason}`;
    case "action_proposed": return `proposed ${describeCall(p.call)}`;
    case "safety_verdict": return `gate: ${String(p.verdict?.decision || "").replace("DECISION_", "").toLowerCase()}${(p.verdict?.reasons || []).length ? ` — ${p.verdict.reasons.map((r) => r.message).join("; ")}` : ""}`;
    case "confirmation_requested": return `waiting for approval: ${describeCall(p.call)}`;
    case "confirmation_resolved": return `${p.approved ? "approved" : "denied"} by ${p.resolved_by || "timeout"}${p.reason ? `: ${p.reason}` : ""}`;
    case "action_executed": return `${p.ok ? "done" : `failed: ${p.error}`} in ${Math.round(p.latency_ms || 0)} ms`;
    case "content_scanned": return `scan ${String(p.source || "").replace("CONTENT_SOURCE_", "").toLowerCase()}: ${p.injection ? "possible injection" : "clean"} (${Number(p.score || 0).toFixed(2)})`;
    case "tool_result": return `result${p.is_error ? " (error)" : ""}: ${short(p.text || (p.images?.length ? "screenshot" : ""))}`;
    case "control_taken": return `${p.by} took control`;
    case "control_released": return `${p.by} handed back${p.note ? `: ${p.note}` : ""}`;
    case "session_finished": return `ended ${statusName(p.status)}${p.reason ? `: ${p.reason}` : ""}`;
    default: return name;
  }
}

/** The screenshot an event carries, as a URL of the gateway ("" when none). */
export function screenshotOf(sessionId, event) {
  const [name, p] = payloadOf(event);
  if (name === "action_executed") return screenshotUrl(sessionId, p.screenshot);
  if (name === "tool_result" && p.images?.length) return screenshotUrl(sessionId, p.images[0]);
  return "";
}

export const timeOf = (event) => (event.time ? new Date(event.time).toLocaleTimeString() : "");
