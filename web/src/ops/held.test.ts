import { describe, expect, it } from "vitest";
import { heldConfirmText, heldEmptyText, heldResultText, type Held } from "./held";

const message: Held = { subject: "Invoice", from: "x@remote.test", mailbox: "alice@example.test", release_to: "INBOX" };

describe("held mail in words", () => {
  it("says where a release puts the message, and that a delete is for good", () => {
    expect(heldConfirmText("release", message)).toBe(
      "Release “Invoice” from x@remote.test into alice@example.test, folder INBOX? Its owner will see it there.",
    );
    expect(heldConfirmText("release", { ...message, release_to: undefined })).toContain(
      "into alice@example.test, the folder it was meant for?",
    );
    expect(heldConfirmText("delete", { ...message, subject: "" })).toMatch(/^Delete “\(no subject\)” .* cannot be undone\.$/);
  });
  it("tells the result with the folder the API answered", () => {
    expect(heldResultText("release", message, "Work")).toBe(
      "Released “Invoice” from x@remote.test to alice@example.test, folder Work.",
    );
    expect(heldResultText("delete", message)).toBe("Deleted “Invoice” from x@remote.test.");
  });
  it("says what an empty list means", () => {
    expect(heldEmptyText("", false)).toMatch(/^Nothing is held\./);
    expect(heldEmptyText("bob@example.test", false)).toMatch(/^Nothing is held for bob@example.test\./);
    expect(heldEmptyText("", true)).toBe("No older held messages.");
  });
});
