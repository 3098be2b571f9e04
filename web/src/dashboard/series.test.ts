import { describe, expect, it } from "vitest";
import { authSeries, destinationBars, queueBars, replySeries, verdictSeries, type Stats } from "./series";

type Minute = Stats["minutes"][number];

function minute(over: Partial<Minute>): Minute {
  return {
    start: "2026-12-01T02:00:00Z",
    messages_in: 0,
    messages_out: 0,
    replies: {},
    queue_depth: 0,
    hook_latency: {},
    hook_verdicts: {},
    auth: {},
    ...over,
  };
}

function stats(minutes: Minute[], over: Partial<Stats> = {}): Stats {
  return {
    minutes,
    processes: ["fe"],
    queue_depth_now: 0,
    local_queue_now: { queued: 0, leased: 0 },
    outbound_queue_now: { scheduled: 0, deferred: 0, leased: 0, held: 0 },
    deferred_by_destination: {},
    ...over,
  };
}

describe("the dashboard's series", () => {
  it("keeps reply codes in order, each class in its colour family", () => {
    const series = replySeries(stats([minute({ replies: { "550": 1, "250": 3 } }), minute({ replies: { "251": 1 } })]));
    expect(series.map((s) => [s.name, s.values])).toEqual([
      ["250", [3, 0]],
      ["251", [0, 1]],
      ["550", [1, 0]],
    ]);
    expect(series[0]?.color).not.toBe(series[1]?.color);
  });

  it("lists hook verdicts by plugin, continue before refusals, zero where a minute had none", () => {
    const series = verdictSeries(
      stats([
        minute({ hook_verdicts: { spam: { reject: 2, continue: 5 } } }),
        minute({ hook_verdicts: { av: { continue: 1 }, spam: { continue: 1 } } }),
      ]),
    );
    expect(series.map((s) => [s.name, s.values])).toEqual([
      ["av: continue", [0, 1]],
      ["spam: continue", [5, 1]],
      ["spam: reject", [2, 0]],
    ]);
    // The same verdict of two plugins: one family, two shades.
    expect(series[0]?.color).not.toBe(series[1]?.color);
  });

  it("counts one method's results, passes first and failures last", () => {
    const s = stats([minute({ auth: { spf: { fail: 1, pass: 4, softfail: 1 }, dkim: { none: 2 } } }), minute({})]);
    expect(authSeries(s, "spf").map((x) => [x.name, x.values])).toEqual([
      ["pass", [4, 0]],
      ["softfail", [1, 0]],
      ["fail", [1, 0]],
    ]);
    expect(authSeries(s, "dmarc")).toEqual([]);
  });

  it("shows every queue state now, local then outbound, and the deferred by destination", () => {
    const s = stats([], {
      local_queue_now: { queued: 2, leased: 1 },
      outbound_queue_now: { scheduled: 0, deferred: 3, leased: 0, held: 1 },
      deferred_by_destination: { "far.test": 2, "near.test": 1 },
    });
    expect(queueBars(s).map((b) => [b.name, b.value])).toEqual([
      ["local queued", 2],
      ["local leased", 1],
      ["outbound scheduled", 0],
      ["outbound deferred", 3],
      ["outbound leased", 0],
      ["outbound held", 1],
    ]);
    expect(destinationBars(s).map((b) => [b.name, b.value])).toEqual([
      ["far.test", 2],
      ["near.test", 1],
    ]);
  });
});
