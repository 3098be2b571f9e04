// The outbound queue in words: state labels, which filter asks for which states, what an
// operator may do to a row, what to ask before doing it and how to tell what it did.
import type { Schemas } from "../api/client";

export type OutboundRow = Schemas["OutboundRow"];
export type RecipientState = Schemas["RecipientState"];
export type QueueState = Schemas["QueueState"];
export type RowAction = "retry" | "bounce" | "delete";

export const STATE_LABELS: Record<RecipientState, string> = {
  scheduled: "Scheduled",
  deferred: "Deferred",
  held: "Held",
  leased: "Being delivered",
  delivered: "Delivered",
  bounced: "Bounced",
};

/** The inbound (local delivery) queue's states. */
export const QUEUE_STATE_LABELS: Record<QueueState, string> = {
  queued: "Waiting",
  leased: "Being processed",
  done: "Done",
  failed: "Failed",
};

/** Mail still to be delivered that nobody is delivering right now. */
export const WAITING: readonly RecipientState[] = ["scheduled", "deferred", "held"];

/** The filter's choices: "waiting" (the default), each state, or every row. */
export const STATE_CHOICES: readonly { value: string; label: string }[] = [
  { value: "waiting", label: "Waiting (deferred, held, scheduled)" },
  ...(["deferred", "held", "scheduled", "leased", "delivered", "bounced"] as const).map((state) => ({
    value: state,
    label: STATE_LABELS[state],
  })),
  { value: "all", label: "Any state" },
];

/** The API's `state` values for the filter's choice (empty: no filter). */
export function statesFor(choice: string | null): RecipientState[] {
  if (!choice || choice === "waiting") return [...WAITING];
  if (choice === "all") return [];
  return choice in STATE_LABELS ? [choice as RecipientState] : [...WAITING];
}

/** The API leaves a delivery in flight and finished rows alone. */
export function canAct(state: RecipientState): boolean {
  return WAITING.includes(state);
}

export const ACTIONS: Record<RowAction, { label: string; button: string; danger: boolean }> = {
  retry: { label: "Retry now", button: "Retry now", danger: false },
  bounce: { label: "Bounce", button: "Bounce", danger: true },
  delete: { label: "Delete", button: "Delete", danger: true },
};

/** What the confirmation says: what will happen, and what will not. */
export function confirmText(action: RowAction, row: OutboundRow): string {
  const who = `the mail for ${row.recipient} (to ${row.destination})`;
  switch (action) {
    case "retry":
      return `Try ${who} again now, without waiting for its next scheduled attempt?`;
    case "bounce":
      return `Give up on ${who}? It is marked bounced and never tried again; no delivery status notification is sent to ${row.mail_from || "the sender"}.`;
    case "delete":
      return `Delete ${who} from the queue for good, with its attempts? Nothing is delivered and no notification is sent.`;
  }
}

/** The result, in words, of an action the API took on ``changed`` (the rows as they were). */
export function resultText(action: RowAction, changed: readonly OutboundRow[]): string {
  const whom = changed.map((row) => row.recipient).join(", ");
  const count = changed.length === 1 ? "1 recipient" : `${changed.length} recipients`;
  switch (action) {
    case "retry":
      return `Retrying ${count} now: ${whom}.`;
    case "bounce":
      return `Bounced ${count}: ${whom}.`;
    case "delete":
      return `Deleted ${count} from the queue: ${whom}.`;
  }
}

/** When a row is due, relative to ``now``: "on hold", "due now", "in 4 min", "in 2 h 5 min". */
export function dueText(row: Pick<OutboundRow, "state" | "next_attempt_at">, now: Date): string {
  if (row.state === "held") return "on hold";
  if (!canAct(row.state)) return "—";
  const seconds = Math.round((Date.parse(row.next_attempt_at) - now.getTime()) / 1000);
  if (seconds <= 0) return "due now";
  if (seconds < 60) return `in ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `in ${hours} h ${rest} min` : `in ${hours} h`;
}

/** What an empty list means, and what to do about it. */
export function emptyText(choice: string, destination: string): string {
  const where = destination ? ` for ${destination}` : "";
  if (choice === "all") return `No outbound mail${where} at all. Mail users send to other domains shows here.`;
  const states = statesFor(choice);
  if (states.length > 1) {
    return `No outbound mail is waiting${where}: nothing is deferred, held or scheduled. Choose “Any state” to see delivered and bounced mail.`;
  }
  const label = STATE_LABELS[states[0] ?? "deferred"].toLowerCase();
  return `No outbound mail${where} is in the state “${label}”. Choose another state, or “Any state”.`;
}
