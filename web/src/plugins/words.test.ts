import { describe, expect, it } from "vitest";
import { permissionSentences, pointWords, scopeSentences, transportWords } from "./words";

describe("a manifest in plain words", () => {
  it("says each scope and permission in a sentence", () => {
    expect(scopeSentences(["headers", "body-preview"])).toEqual([
      "Reads the message's header fields (From, To, Subject, Date and the rest).",
      "Reads the beginning of the message's text (the first few kilobytes).",
    ]);
    expect(permissionSentences(["reject"])).toEqual(["May refuse a message for good (a 5xx reply to the sender)."]);
  });
  it("names a word it does not know instead of dropping it", () => {
    expect(scopeSentences(["telepathy"])).toEqual(["Scope “telepathy” (this page has no words for it)."]);
    expect(permissionSentences(["launch"])[0]).toContain("“launch”");
  });
  it("says the transport and the hook points", () => {
    expect(transportWords("webhook")).toMatch(/gives no verdict/);
    expect(transportWords("")).toBe("Not known until installed.");
    expect(pointWords(["rcpt_to", "pre_receive"])).toBe(
      "at RCPT TO (each recipient is named); at the end of DATA, before the message is accepted",
    );
  });
});
