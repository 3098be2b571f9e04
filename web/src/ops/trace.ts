// The message trace as steps a person reads: the events of GET /api/v1/events/trace
// (oldest first) grouped by message, each turned into one or more steps (a Reception tells
// of the way in, the checks and the verdict; a delivery attempt of its reply), in order.
import type { Schemas } from "../api/client";

export type TraceEvent = Schemas["EventOut"];
export type Tone = "ok" | "info" | "warn" | "refused";

export interface TraceStep {
  key: string;
  at: string;
  title: string;
  text: string;
  /** Who did it: the client, a check, a plugin, a remote server, the operator. */
  actor: string;
  recipient: string | null;
  reply: string | null;
  /** When the next try is due (a deferral). */
  retryAt: string | null;
  tone: Tone;
}

export interface TracedMessage {
  /** Our queue id (the transaction's id for refusals that never reached a 250). */
  queueId: string | null;
  /** The Message-ID header, when known. */
  messageId: string | null;
  accepted: boolean;
  steps: TraceStep[];
}

export type TraceBy = "message_id" | "recipient" | "queue_id";

export const TRACE_BY: Record<TraceBy, { label: string; hint: string }> = {
  message_id: { label: "Message-ID", hint: "<id@host.example>" },
  recipient: { label: "Recipient", hint: "name@example.com" },
  queue_id: { label: "Queue id", hint: "the id in “250 … queued as”" },
};

/** The API's query for a search: a Message-ID gets its angle brackets if it has none. */
export function traceQuery(by: TraceBy, value: string): Partial<Record<TraceBy, string>> {
  const text = value.trim();
  if (by === "message_id" && text && !text.startsWith("<")) return { message_id: `<${text}>` };
  return { [by]: text };
}

// Steps at the same instant: what happens first in a message's life comes first.
const RANK: Record<TraceEvent["type"], number> = {
  Rejection: 0,
  Reception: 1,
  Discard: 2,
  Delivery: 2,
  TransientFailure: 2,
  Expiration: 3,
  Bounce: 4,
  QuarantineReleased: 5,
};

const CHECK_NAMES: Record<string, string> = { spf: "SPF", dkim: "DKIM", dmarc: "DMARC", arc: "ARC" };
const PLATFORM_SOURCES = new Set(["spf", "dmarc", "dns"]);

/** Every message the events tell of, in the order first seen, each with its steps. */
export function groupTrace(events: readonly TraceEvent[]): TracedMessage[] {
  const groups = new Map<string, TraceEvent[]>();
  for (const event of events) {
    const key = event.queue_id ?? `event:${event.id}`;
    const group = groups.get(key);
    if (group) group.push(event);
    else groups.set(key, [event]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort(byTimeThenRank);
    return {
      queueId: sorted[0]?.queue_id ?? null,
      messageId: sorted.find((e) => e.message_id)?.message_id ?? null,
      accepted: sorted.some((e) => e.type === "Reception"),
      steps: stepsOf(sorted),
    };
  });
}

function byTimeThenRank(a: TraceEvent, b: TraceEvent): number {
  const time = Date.parse(a.at) - Date.parse(b.at);
  return time !== 0 ? time : RANK[a.type] - RANK[b.type];
}

/** The steps of one message's events (already in order): the Receptions of its
 * recipients make one "Received" step (and one for the checks, one for the verdict). */
export function stepsOf(events: readonly TraceEvent[]): TraceStep[] {
  const steps: TraceStep[] = [];
  const receptions = events.filter((e) => e.type === "Reception");
  for (const event of events) {
    if (event.type === "Reception") {
      if (event === receptions[0]) steps.push(...receivedSteps(event, receptions));
      continue;
    }
    steps.push(stepOf(event));
  }
  return steps;
}

function receivedSteps(first: TraceEvent, all: TraceEvent[]): TraceStep[] {
  const detail: Record<string, unknown> = first.detail ?? {};
  const client = text(detail.client);
  const recipients = all.map((e) => e.recipient).filter((r): r is string => !!r);
  const size = typeof detail.size === "number" ? `, ${detail.size} bytes` : "";
  const steps: TraceStep[] = [
    step(first, {
      title: "Received",
      text: `From ${text(detail.mail_from) || "<>"} for ${recipients.join(", ") || "no local recipient"}${size}; accepted with 250`,
      actor: client ? `client ${client}` : "client",
      recipient: null,
      tone: "ok",
    }),
  ];
  const checks = detail.checks;
  if (checks && typeof checks === "object") {
    const words = Object.entries(checks as Record<string, unknown>).map(
      ([method, word]) => `${CHECK_NAMES[method] ?? method.toUpperCase()} ${text(word)}`,
    );
    const failed = Object.values(checks as Record<string, unknown>).some((w) => w === "fail" || w === "permerror");
    steps.push(
      step(first, {
        key: `${first.id}:checks`,
        title: "Checks",
        text: words.join(", ") || "Not checked: the client is on a trusted network, or the sender logged in",
        actor: "MaiRust",
        recipient: null,
        tone: failed ? "warn" : "info",
      }),
    );
  }
  const verdict = detail.verdict;
  if (verdict && typeof verdict === "object") steps.push(verdictStep(first, verdict as Record<string, unknown>));
  return steps;
}

function verdictStep(event: TraceEvent, verdict: Record<string, unknown>): TraceStep {
  const kind = text(verdict.kind);
  const by = text(verdict.by);
  const parts = [VERDICT_WORDS[kind] ?? kind];
  if (verdict.reason) parts.push(`because “${text(verdict.reason)}”`);
  if (Array.isArray(verdict.tags) && verdict.tags.length) parts.push(`tagged ${verdict.tags.map(text).join(", ")}`);
  if (verdict.folder) parts.push(`for folder ${text(verdict.folder)}`);
  return step(event, {
    key: `${event.id}:verdict`,
    title: PLATFORM_SOURCES.has(by) ? "Policy" : "Hooks",
    text: parts.join(", "),
    actor: !by ? "policy" : PLATFORM_SOURCES.has(by) ? `${CHECK_NAMES[by] ?? by.toUpperCase()} policy` : `plugin ${by}`,
    recipient: null,
    tone: kind === "quarantine" ? "warn" : "info",
  });
}

const VERDICT_WORDS: Record<string, string> = {
  continue: "No objection",
  accept: "Accepted",
  quarantine: "Held in quarantine",
};

function stepOf(event: TraceEvent): TraceStep {
  const detail: Record<string, unknown> = event.detail ?? {};
  const outbound = detail.outbound === true;
  const remote = text(detail.remote_host) || text(detail.destination);
  const attempt = typeof detail.attempts === "number" && detail.attempts > 0 ? ` (attempt ${detail.attempts})` : "";
  switch (event.type) {
    case "Reception": // told with the message's other receptions (receivedSteps)
      return step(event, { title: "Received", text: `For ${event.recipient ?? "a recipient"}`, actor: "client", tone: "ok" });
    case "Rejection":
      return step(event, {
        title: `Refused at ${text(detail.stage) || "SMTP"}`,
        text: `${event.recipient ?? "the message"} was refused: ${event.reply ?? "no reply recorded"}`,
        actor: detail.client ? `client ${text(detail.client)}` : "client",
        tone: "refused",
      });
    case "Delivery": {
      if (outbound) {
        return step(event, {
          title: "Relayed",
          text: `Delivered to ${text(detail.destination) || "the remote server"}${attempt}: ${event.reply ?? ""}`,
          actor: remote ? `remote server ${remote}` : "remote server",
          tone: "ok",
        });
      }
      const folders = Array.isArray(detail.folders) ? detail.folders.map(text) : [];
      const held = folders.includes("Quarantine");
      return step(event, {
        title: held ? "Stored, held" : "Stored",
        text: folders.length
          ? `In the mailbox ${event.recipient ?? ""}, folder ${folders.join(", ")}`
          : `Delivered for ${event.recipient ?? "the recipient"}`,
        actor: "delivery pipeline",
        tone: held ? "warn" : "ok",
      });
    }
    case "TransientFailure":
      return step(event, {
        title: `Deferred${attempt}`,
        text: event.reply ?? text(detail.reason),
        actor: outbound ? (remote ? `remote server ${remote}` : "remote server") : "delivery pipeline",
        retryAt: text(detail.retry_at) || null,
        tone: "warn",
      });
    case "Bounce": {
      const operator = detail.by === "operator";
      return step(event, {
        title: operator ? "Bounced by the operator" : "Bounced",
        text: event.reply ?? text(detail.reason),
        actor: operator ? "operator" : outbound && remote ? `remote server ${remote}` : "delivery pipeline",
        tone: "refused",
      });
    }
    case "Expiration":
      return step(event, {
        title: "Expired",
        text: event.reply ?? text(detail.reason),
        actor: "retry schedule",
        tone: "refused",
      });
    case "Discard":
      if (detail.by === "operator") {
        // An outbound recipient deleted from the queue: no delivery, no notice to anyone.
        return step(event, {
          title: "Deleted by the operator",
          text: "Removed from the queue: not delivered, no delivery status notification",
          actor: "operator",
          tone: "warn",
        });
      }
      return step(event, {
        title: "Discarded",
        text: text(detail.reason) || "dropped before delivery",
        actor: detail.by ? `plugin ${text(detail.by)}` : "policy",
        tone: "warn",
      });
    case "QuarantineReleased":
      return step(event, {
        title: "Released from quarantine",
        text: `Moved to folder ${text(detail.folder) || "INBOX"}`,
        actor: text(detail.released_by) || "someone",
        tone: "ok",
      });
  }
}

function step(
  event: TraceEvent,
  fields: Pick<TraceStep, "title" | "text" | "actor" | "tone"> & Partial<TraceStep>,
): TraceStep {
  return {
    key: event.id,
    at: event.at,
    recipient: event.recipient ?? null,
    reply: event.reply ?? null,
    retryAt: null,
    ...fields,
  };
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : String(value);
}
