// The Hooks pages' arithmetic and words, kept pure: the hook points in pipeline order,
// bindings grouped by point in the order they run, a plugin's failure policy read from its
// manifest, and plain words for verdicts, call outcomes and circuit breakers.
import type { Schemas } from "../api/client";

export type HookPoint = Schemas["HookPoint"];
export type Binding = Schemas["BindingOut"];
export type Plugin = Schemas["PluginOut"];
export type Call = Schemas["CallOut"];
export type DryRun = Schemas["DryRunOut"];
export type Figures = Schemas["PluginFiguresOut"];

export interface PointInfo {
  point: HookPoint;
  /** The transaction (or delivery) waits for it: only these can be dry-run. */
  synchronous: boolean;
  /** No message exists yet at this point: the plugins see the envelope only. */
  envelopeOnly: boolean;
  description: string;
}

// Every hook point the API knows, in the order a message meets them (mairust/hooks/points.py
// says the same). A Record over the API's enum: a point added there fails the type check here.
const POINTS: Record<HookPoint, Omit<PointInfo, "point">> = {
  connect: { synchronous: true, envelopeOnly: true, description: "A client connects (its address, HELO)." },
  mail_from: { synchronous: true, envelopeOnly: true, description: "MAIL FROM, before its reply." },
  rcpt_to: { synchronous: true, envelopeOnly: true, description: "Each RCPT TO, before its reply: refusing here costs far less than after DATA." },
  pre_receive: { synchronous: true, envelopeOnly: false, description: "The end of DATA, before the 250." },
  post_receive: { synchronous: false, envelopeOnly: false, description: "After the 250: a durable job, retried, applied once (it cannot be dry-run)." },
  pre_delivery: { synchronous: true, envelopeOnly: false, description: "In the pipeline, before a mailbox or a forward." },
  pre_send: { synchronous: true, envelopeOnly: false, description: "Submission and the send API, before the spool commit." },
};

export const HOOK_POINTS: readonly PointInfo[] = (Object.keys(POINTS) as HookPoint[]).map((point) => ({ point, ...POINTS[point] }));

export function pointInfo(point: string): PointInfo | undefined {
  return HOOK_POINTS.find((info) => info.point === point);
}

/** The order bindings of one point run in: priority (lower first), then age, then id. */
export function byExecutionOrder(a: Binding, b: Binding): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface PointGroup {
  info: PointInfo;
  bindings: Binding[];
}

/** One group per hook point, in pipeline order (an empty point too), each group's
 * bindings in execution order. A binding at a point this UI does not know is left out. */
export function groupByPoint(bindings: readonly Binding[]): PointGroup[] {
  return HOOK_POINTS.map((info) => ({
    info,
    bindings: bindings.filter((b) => b.point === info.point).sort(byExecutionOrder),
  }));
}

/** The points a plugin's manifest declares, in pipeline order: where it may be bound. */
export function declaredPoints(plugin: Plugin): HookPoint[] {
  return HOOK_POINTS.map((info) => info.point).filter((point) => plugin.hooks.includes(point));
}

export interface FailurePolicy {
  callMs: number;
  onTimeout: string;
  onError: string;
}

// The manifest's defaults (mairust/hooks/manifest.py, Timeouts).
const DEFAULT_POLICY: FailurePolicy = { callMs: 200, onTimeout: "accept", onError: "accept" };

/** The plugin's time limit and what a timeout or an error stands for, from its manifest. */
export function failurePolicy(plugin: Plugin | undefined): FailurePolicy {
  const timeouts = plugin?.manifest["timeouts"];
  if (typeof timeouts !== "object" || timeouts === null) return DEFAULT_POLICY;
  const given = timeouts as Record<string, unknown>;
  return {
    callMs: typeof given["call_ms"] === "number" ? given["call_ms"] : DEFAULT_POLICY.callMs,
    onTimeout: typeof given["on_timeout"] === "string" ? given["on_timeout"] : DEFAULT_POLICY.onTimeout,
    onError: typeof given["on_error"] === "string" ? given["on_error"] : DEFAULT_POLICY.onError,
  };
}

/** A failure policy in words: "accept" lets the other plugins decide. */
export function policyWords(policy: string): string {
  if (policy === "accept") return "accept (no opinion)";
  if (policy === "tempfail") return "tempfail (4xx)";
  if (policy === "reject") return "reject (5xx)";
  return policy;
}

/** The plugin's circuit breakers as the processes that call it last reported them. */
export function breakerWords(figures: Figures | undefined): string {
  if (!figures) return "unknown";
  const reported = figures.breakers.length;
  if (reported === 0) return "no reports yet";
  if (figures.shed_by > 0) {
    return `open in ${figures.shed_by} of ${reported} ${reported === 1 ? "process" : "processes"}: calls are shed`;
  }
  return "closed";
}

const VERDICT_WORDS: Record<string, string> = {
  continue: "continue — no opinion, the others decide",
  accept: "accept — take it",
  reject: "reject — refused for good (5xx)",
  tempfail: "tempfail — refused for now (4xx), the sender retries",
  discard: "discard — answered 250 and dropped",
  quarantine: "quarantine — taken, held away from the inbox",
};

export function verdictWords(verdict: string): string {
  return VERDICT_WORDS[verdict] ?? verdict;
}

/** A latency as the API gave it (milliseconds, two decimals at most). */
export function formatLatency(ms: number): string {
  return `${ms.toLocaleString("en-US", { maximumFractionDigits: 2 })} ms`;
}

/** How a call went, for a person: answered, or why not and what stood in for it. */
export function outcomeWords(call: Call): string {
  const took = formatLatency(call.latency_ms);
  switch (call.outcome) {
    case "answered":
      return `Answered in ${took}.`;
    case "timeout":
      return `No answer within its time limit (${took}): its on-timeout policy stands in (${call.verdict}).`;
    case "error":
      return `Failed after ${took}${call.error ? `: ${call.error}` : ""}. Its on-error policy stands in (${call.verdict}).`;
    case "shed":
      return `Not called: its circuit breaker is open after repeated failures. Its on-error policy stands in (${call.verdict}).`;
    default:
      return `${call.outcome} after ${took}.`;
  }
}

/** What a call asked for besides its verdict: tags, folder, modifications, what was dropped. */
export function callEffects(call: Call): string[] {
  const effects: string[] = [];
  if (call.reason) effects.push(`Reason: ${call.reason}`);
  if (call.reply) effects.push(`Reply: ${call.reply}`);
  if (call.tags.length) effects.push(`Tags: ${call.tags.join(", ")}`);
  if (call.folder) effects.push(`Folder: ${call.folder}`);
  for (const change of call.modifications) effects.push(`Modification: ${change}`);
  if (call.dropped.length) effects.push(`Dropped (not permitted): ${call.dropped.join(", ")}`);
  return effects;
}

/** The dry run's outcome in one sentence: what would be enforced and answered. */
export function combinedWords(run: DryRun): string {
  const enforced = run.calls.filter((call) => call.mode === "enforce");
  if (run.calls.length === 0) return `No plugin is bound and on at ${run.point}: the message would go on.`;
  const verdict = verdictWords(run.verdict);
  const reply = run.reply ? ` The client would be answered “${run.reply}”.` : " The transaction would go on.";
  const shadow = enforced.length < run.calls.length ? " Shadow bindings were asked but are never applied." : "";
  return `Combined verdict: ${verdict}.${reply}${shadow}`;
}

/** Recipients typed as a list: commas, semicolons, spaces or lines between them. */
export function parseRecipients(text: string): string[] {
  return text.split(/[\s,;]+/).filter((part) => part.length > 0);
}
