import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Charts } from "./Charts";
import type { Stats } from "./series";

const MINUTE = {
  start: "2026-12-01T02:00:00Z",
  messages_in: 3,
  messages_out: 2,
  replies: { "250": 3 },
  queue_depth: 1,
  hook_latency: { spam: { calls: 3, mean_ms: 12 } },
  hook_verdicts: { spam: { continue: 2, reject: 1 } },
  auth: { spf: { pass: 2, fail: 1 } },
};

function stats(over: Partial<Stats> = {}): Stats {
  return {
    minutes: [MINUTE, { ...MINUTE, start: "2026-12-01T02:01:00Z" }],
    processes: ["fe", "w0"],
    queue_depth_now: 1,
    local_queue_now: { queued: 1, leased: 0 },
    outbound_queue_now: { scheduled: 0, deferred: 2, leased: 0, held: 0 },
    deferred_by_destination: { "far.test": 2 },
    ...over,
  };
}

function legendOf(name: string): string[] {
  const figure = screen.getByRole("figure", { name });
  return within(figure)
    .getAllByRole("listitem")
    .map((li) => li.textContent ?? "");
}

describe("the dashboard's charts", () => {
  it("draws a chart for each series of the answer, its legend in words", () => {
    render(<Charts stats={stats()} />);
    expect(legendOf("Messages per minute")).toEqual(["In: 6 in all", "Delivered: 4 in all"]);
    expect(legendOf("Hook verdicts")).toEqual(["spam: continue: 4 in all", "spam: reject: 2 in all"]);
    expect(legendOf("SPF results")).toEqual(["pass: 4 in all", "fail: 2 in all"]);
    expect(legendOf("Deferred by destination")).toEqual(["far.test: 2"]);
    expect(legendOf("Queue by state")).toContain("outbound deferred: 2");
    // The picture says the same to a screen reader.
    const bars = within(screen.getByRole("figure", { name: "Deferred by destination" })).getByRole("img");
    expect(bars.getAttribute("aria-label")).toContain("far.test 2");
  });

  it("says why a chart is empty instead of drawing nothing", () => {
    const quiet = { ...MINUTE, hook_latency: {}, hook_verdicts: {}, auth: {} };
    render(<Charts stats={stats({ minutes: [quiet], deferred_by_destination: {} })} />);
    const deferred = screen.getByRole("figure", { name: "Deferred by destination" });
    expect(deferred.textContent).toContain("Nothing is deferred");
    expect(screen.getByRole("figure", { name: "DKIM results" }).textContent).toContain(
      "mail from trusted networks is not",
    );
    expect(screen.getByRole("figure", { name: "Hook verdicts" }).textContent).toContain("No plugin was called");
  });
});
