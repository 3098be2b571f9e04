import { describe, expect, it } from "vitest";
import { canAct, confirmText, dueText, emptyText, resultText, statesFor, type OutboundRow } from "./queue";

function row(fields: Partial<OutboundRow> = {}): OutboundRow {
  return {
    id: 7,
    message_id: "Q1",
    mail_from: "alice@example.test",
    recipient: "bob@far.test",
    destination: "far.test",
    state: "deferred",
    attempts: 1,
    next_attempt_at: "2026-12-01T10:05:00Z",
    created_at: "2026-12-01T10:00:00Z",
    last_reply: "451 4.3.0 Try later",
    bounce_class: null,
    delay_notified_at: null,
    ...fields,
  };
}

describe("statesFor", () => {
  it("asks for the waiting states by default, one state, or none for any", () => {
    expect(statesFor(null)).toEqual(["scheduled", "deferred", "held"]);
    expect(statesFor("waiting")).toEqual(["scheduled", "deferred", "held"]);
    expect(statesFor("bounced")).toEqual(["bounced"]);
    expect(statesFor("all")).toEqual([]);
    expect(statesFor("nonsense")).toEqual(["scheduled", "deferred", "held"]);
  });
});

describe("actions", () => {
  it("are offered on waiting rows only", () => {
    expect(["scheduled", "deferred", "held"].every((s) => canAct(s as OutboundRow["state"]))).toBe(true);
    expect(["leased", "delivered", "bounced"].some((s) => canAct(s as OutboundRow["state"]))).toBe(false);
  });
  it("say what they do before, and what they did after", () => {
    expect(confirmText("bounce", row())).toContain("no delivery status notification is sent to alice@example.test");
    expect(confirmText("delete", row())).toMatch(/^Delete the mail for bob@far.test \(to far.test\)/);
    expect(resultText("retry", [row()])).toBe("Retrying 1 recipient now: bob@far.test.");
    expect(resultText("delete", [row(), row({ recipient: "c@far.test" })])).toBe(
      "Deleted 2 recipients from the queue: bob@far.test, c@far.test.",
    );
  });
});

describe("dueText", () => {
  const now = new Date("2026-12-01T10:00:00Z");
  it("tells when a waiting row is tried next", () => {
    expect(dueText(row({ next_attempt_at: "2026-12-01T09:59:00Z" }), now)).toBe("due now");
    expect(dueText(row({ next_attempt_at: "2026-12-01T10:00:30Z" }), now)).toBe("in 30 s");
    expect(dueText(row(), now)).toBe("in 5 min");
    expect(dueText(row({ next_attempt_at: "2026-12-01T12:05:00Z" }), now)).toBe("in 2 h 5 min");
    expect(dueText(row({ next_attempt_at: "2026-12-01T12:00:00Z" }), now)).toBe("in 2 h");
  });
  it("says a held row waits for a release, and a finished one is not due", () => {
    expect(dueText(row({ state: "held" }), now)).toBe("on hold");
    expect(dueText(row({ state: "delivered" }), now)).toBe("—");
  });
});

describe("emptyText", () => {
  it("says what an empty list means for the filter", () => {
    expect(emptyText("waiting", "")).toMatch(/^No outbound mail is waiting: nothing is deferred/);
    expect(emptyText("bounced", "far.test")).toBe(
      "No outbound mail for far.test is in the state “bounced”. Choose another state, or “Any state”.",
    );
    expect(emptyText("all", "")).toMatch(/^No outbound mail at all\./);
  });
});
