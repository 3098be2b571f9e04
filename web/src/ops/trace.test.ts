import { describe, expect, it } from "vitest";
import { groupTrace, traceQuery, type TraceEvent } from "./trace";

let next = 0;
function event(fields: Partial<TraceEvent> & Pick<TraceEvent, "type" | "at">): TraceEvent {
  next += 1;
  return {
    id: `e${next}`,
    tenant_id: "t1",
    queue_id: "Q1",
    message_id: "<m1@remote.test>",
    recipient: "alice@example.test",
    reply: null,
    detail: null,
    ...fields,
  };
}

describe("groupTrace", () => {
  it("tells a message's way in and out in order, refusals first at the same instant", () => {
    const at = "2026-12-01T10:00:00Z";
    const events = [
      // Out of order on purpose: the same second, a reception listed before its refusal.
      event({
        type: "Reception",
        at,
        detail: {
          client: "127.0.0.1",
          mail_from: "x@remote.test",
          size: 120,
          checks: { spf: "pass", dkim: "none", dmarc: "fail" },
          verdict: { kind: "quarantine", by: "rules", reason: "held", folder: "Quarantine" },
        },
      }),
      event({ type: "Reception", at, recipient: "bob@example.test", detail: { client: "127.0.0.1", mail_from: "x@remote.test" } }),
      event({
        type: "Rejection",
        at,
        recipient: "nobody@example.test",
        reply: "550 5.1.1 No such user",
        detail: { stage: "RCPT", client: "127.0.0.1" },
      }),
      event({ type: "Delivery", at: "2026-12-01T10:00:01Z", detail: { attempts: 1, entry_ids: ["E1"], folders: ["Quarantine"] } }),
      event({
        type: "QuarantineReleased",
        at: "2026-12-01T10:05:00Z",
        detail: { entry_id: "E1", folder: "INBOX", released_by: "admin" },
      }),
    ];
    const [message] = groupTrace(events);
    expect(message?.accepted).toBe(true);
    expect(message?.queueId).toBe("Q1");
    expect(message?.steps.map((s) => s.title)).toEqual([
      "Refused at RCPT",
      "Received",
      "Checks",
      "Hooks",
      "Stored, held",
      "Released from quarantine",
    ]);
    const [refused, received, checks, hooks, stored, released] = message?.steps ?? [];
    expect(refused?.tone).toBe("refused");
    expect(refused?.text).toBe("nobody@example.test was refused: 550 5.1.1 No such user");
    expect(received?.text).toBe(
      "From x@remote.test for alice@example.test, bob@example.test, 120 bytes; accepted with 250",
    );
    expect(received?.actor).toBe("client 127.0.0.1");
    expect(checks?.text).toBe("SPF pass, DKIM none, DMARC fail");
    expect(checks?.tone).toBe("warn");
    expect(hooks?.text).toBe("Held in quarantine, because “held”, for folder Quarantine");
    expect(hooks?.actor).toBe("plugin rules");
    expect(stored?.text).toBe("In the mailbox alice@example.test, folder Quarantine");
    expect(released?.actor).toBe("admin");
  });

  it("tells outbound attempts with the remote server's replies, an operator's bounce and delete", () => {
    const out = { outbound: true, destination: "relay:[127.0.0.1]:2600", remote_host: "127.0.0.1" };
    const [message] = groupTrace([
      event({ type: "Reception", at: "2026-12-01T10:00:00Z", detail: { client: "127.0.0.1", mail_from: "" } }),
      event({
        type: "TransientFailure",
        at: "2026-12-01T10:00:02Z",
        reply: "451 4.3.0 Try later",
        detail: { ...out, attempts: 1, retry_at: "2026-12-01T10:05:02Z" },
      }),
      event({
        type: "Bounce",
        at: "2026-12-01T10:01:00Z",
        reply: "550 5.0.0 Bounced by the operator",
        detail: { outbound: true, by: "operator", destination: out.destination },
      }),
      event({
        type: "Discard",
        at: "2026-12-01T10:02:00Z",
        detail: { outbound: true, by: "operator", action: "delete", destination: out.destination },
      }),
    ]);
    const [received, deferred, bounced, deleted] = message?.steps ?? [];
    expect(received?.text).toContain("From <> for alice@example.test");
    expect(deferred?.title).toBe("Deferred (attempt 1)");
    expect(deferred?.text).toBe("451 4.3.0 Try later");
    expect(deferred?.actor).toBe("remote server 127.0.0.1");
    expect(deferred?.retryAt).toBe("2026-12-01T10:05:02Z");
    expect(bounced?.title).toBe("Bounced by the operator");
    expect(bounced?.actor).toBe("operator");
    expect(deleted?.title).toBe("Deleted by the operator");
    expect(deleted?.actor).toBe("operator");
  });

  it("says when a message was not checked", () => {
    const [message] = groupTrace([event({ type: "Reception", at: "2026-12-01T10:00:00Z", detail: { checks: {} } })]);
    expect(message?.steps[1]?.text).toMatch(/^Not checked: the client is on a trusted network/);
    expect(message?.steps[1]?.tone).toBe("info");
  });

  it("keeps messages apart, in the order first seen, and an unaccepted refusal on its own", () => {
    const groups = groupTrace([
      event({ type: "Rejection", at: "2026-12-01T09:00:00Z", queue_id: "T0", reply: "550 5.1.1 No", detail: { stage: "RCPT" } }),
      event({ type: "Reception", at: "2026-12-01T10:00:00Z", queue_id: "Q2" }),
      event({ type: "Delivery", at: "2026-12-01T10:00:01Z", queue_id: "Q2", detail: { folders: ["INBOX"] } }),
    ]);
    expect(groups.map((g) => [g.queueId, g.accepted, g.steps.length])).toEqual([
      ["T0", false, 1],
      ["Q2", true, 2],
    ]);
  });
});

describe("traceQuery", () => {
  it("asks by one parameter, a Message-ID in angle brackets", () => {
    expect(traceQuery("message_id", " abc@host.test ")).toEqual({ message_id: "<abc@host.test>" });
    expect(traceQuery("message_id", "<abc@host.test>")).toEqual({ message_id: "<abc@host.test>" });
    expect(traceQuery("recipient", "a@b.test")).toEqual({ recipient: "a@b.test" });
  });
});
