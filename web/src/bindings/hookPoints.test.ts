import { describe, expect, it } from "vitest";
import {
  breakerWords,
  callEffects,
  combinedWords,
  declaredPoints,
  failurePolicy,
  formatLatency,
  groupByPoint,
  HOOK_POINTS,
  outcomeWords,
  parseRecipients,
  type Binding,
  type Call,
  type Figures,
  type Plugin,
} from "./hookPoints";

function binding(id: string, point: Binding["point"], priority: number, created = "2026-12-01T00:00:00Z"): Binding {
  return { id, plugin: `p-${id}`, point, priority, mode: "enforce", enabled: true, tenant_id: null, domain: null, created_at: created };
}

function plugin(hooks: string[], manifest: Record<string, unknown> = {}): Plugin {
  return {
    name: "p", version: "1.0.0", enabled: true, description: "", transport: "http", hooks,
    scopes: [], permissions: [], config: {}, manifest,
    installed_at: "2026-12-01T00:00:00Z", updated_at: "2026-12-01T00:00:00Z",
  };
}

function call(over: Partial<Call>): Call {
  return {
    plugin: "p", mode: "enforce", outcome: "answered", verdict: "continue", reason: "", reply: null,
    tags: [], folder: null, modifications: [], dropped: [], error: "", latency_ms: 3.27, ...over,
  };
}

describe("hook points", () => {
  it("are every point the API knows, in pipeline order", () => {
    expect(HOOK_POINTS.map((p) => p.point)).toEqual([
      "connect", "mail_from", "rcpt_to", "pre_receive", "post_receive", "pre_delivery", "pre_send",
    ]);
    expect(HOOK_POINTS.filter((p) => !p.synchronous).map((p) => p.point)).toEqual(["post_receive"]);
  });
});

describe("grouping bindings", () => {
  it("gives every point a group, empty ones too, each in execution order", () => {
    const groups = groupByPoint([
      binding("late", "pre_receive", 100, "2026-12-01T00:00:02Z"),
      binding("first", "pre_receive", 10),
      binding("early", "pre_receive", 100, "2026-12-01T00:00:01Z"),
      binding("rcpt", "rcpt_to", 5),
    ]);
    expect(groups.map((g) => g.info.point)).toEqual(HOOK_POINTS.map((p) => p.point));
    const pre = groups.find((g) => g.info.point === "pre_receive");
    expect(pre?.bindings.map((b) => b.id)).toEqual(["first", "early", "late"]);
    expect(groups.find((g) => g.info.point === "connect")?.bindings).toEqual([]);
  });
  it("breaks a tie of priority and age by id", () => {
    const [, , , pre] = groupByPoint([binding("b", "pre_receive", 1), binding("a", "pre_receive", 1)]);
    expect(pre?.bindings.map((b) => b.id)).toEqual(["a", "b"]);
  });
});

describe("a plugin's manifest", () => {
  it("names the points it may be bound at, in pipeline order", () => {
    expect(declaredPoints(plugin(["pre_send", "connect", "bogus"]))).toEqual(["connect", "pre_send"]);
  });
  it("gives its timeout and failure policy, or the manifest's defaults", () => {
    expect(failurePolicy(plugin([], { timeouts: { call_ms: 500, on_error: "tempfail" } }))).toEqual({
      callMs: 500,
      onTimeout: "accept",
      onError: "tempfail",
    });
    expect(failurePolicy(undefined)).toEqual({ callMs: 200, onTimeout: "accept", onError: "accept" });
  });
});

describe("breakers", () => {
  const figures = (states: ("open" | "closed")[], shed: number): Figures => ({
    plugin: "p",
    points: [],
    shed_by: shed,
    breakers: states.map((state, i) => ({ holder: `h${i}`, state, changed_at: "2026-12-01T00:00:00Z", trial_after: null, times_opened: 0 })),
  });
  it("says open, closed, or that nothing reported", () => {
    expect(breakerWords(figures(["open", "closed"], 1))).toBe("open in 1 of 2 processes: calls are shed");
    expect(breakerWords(figures(["closed"], 0))).toBe("closed");
    expect(breakerWords(figures([], 0))).toBe("no reports yet");
    expect(breakerWords(undefined)).toBe("unknown");
  });
});

describe("words for a dry run", () => {
  it("shows latency as the API gave it", () => {
    expect(formatLatency(3.27)).toBe("3.27 ms");
    expect(formatLatency(1234.5)).toBe("1,234.5 ms");
    expect(formatLatency(0)).toBe("0 ms");
  });
  it("says how a call went in plain words", () => {
    expect(outcomeWords(call({}))).toBe("Answered in 3.27 ms.");
    expect(outcomeWords(call({ outcome: "timeout", verdict: "continue", latency_ms: 500 }))).toBe(
      "No answer within its time limit (500 ms): its on-timeout policy stands in (continue).",
    );
    expect(outcomeWords(call({ outcome: "error", verdict: "tempfail", error: "connection refused" }))).toBe(
      "Failed after 3.27 ms: connection refused. Its on-error policy stands in (tempfail).",
    );
    expect(outcomeWords(call({ outcome: "shed", verdict: "continue" }))).toContain("circuit breaker is open");
  });
  it("lists what a call asked for", () => {
    expect(callEffects(call({ tags: ["a", "b"], folder: "Junk", modifications: ["AddHeader(X)"], dropped: ["folder"] }))).toEqual([
      "Tags: a, b",
      "Folder: Junk",
      "Modification: AddHeader(X)",
      "Dropped (not permitted): folder",
    ]);
  });
  it("sums up what would be enforced", () => {
    const run = { point: "pre_receive" as const, verdict: "reject", reply: "550 5.7.1 No", calls: [call({ verdict: "reject" }), call({ mode: "shadow" })] };
    expect(combinedWords(run)).toBe(
      "Combined verdict: reject — refused for good (5xx). The client would be answered “550 5.7.1 No”. Shadow bindings were asked but are never applied.",
    );
    expect(combinedWords({ point: "rcpt_to", verdict: "continue", reply: null, calls: [] })).toBe(
      "No plugin is bound and on at rcpt_to: the message would go on.",
    );
  });
  it("reads recipients from a typed list", () => {
    expect(parseRecipients(" a@x.test, b@x.test;\nc@x.test ")).toEqual(["a@x.test", "b@x.test", "c@x.test"]);
  });
});
