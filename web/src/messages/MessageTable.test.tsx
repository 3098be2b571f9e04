import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { MessageTable, type Summary } from "./MessageTable";

function summary(over: Partial<Summary>): Summary {
  return {
    id: "01A",
    mailbox: "jane@example.test",
    message_id: "m1",
    from: "bob@remote.example",
    to: ["jane@example.test"],
    subject: "Quarterly figures",
    date: null,
    received_at: "2026-11-30T10:00:00Z",
    size: 2048,
    folder: "INBOX",
    tags: [],
    seen: true,
    flagged: false,
    ...over,
  };
}

describe("the message list", () => {
  it("shows each message as a row, its subject a link to it", () => {
    render(
      <MessageTable
        items={[summary({ tags: ["invoice", "q3"] }), summary({ id: "01B/x", subject: "", seen: false })]}
      />,
    );
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    const first = within(rows[0]!);
    expect(first.getByRole("link", { name: "Quarterly figures" }).getAttribute("href")).toBe("/messages/01A");
    expect(first.getByText("invoice")).toBeTruthy();
    expect(first.getByRole("cell", { name: "2.0 KiB" })).toBeTruthy();
    // No subject, an id that needs escaping, and unread (said, not only bold).
    const second = within(rows[1]!);
    expect(second.getByRole("link", { name: "(no subject)" }).getAttribute("href")).toBe("/messages/01B%2Fx");
    expect(rows[1]!.className).toBe("unread");
    expect(second.getByText("(unread)")).toBeTruthy();
  });

  it("has no flag toggles when nothing can be flagged", () => {
    render(<MessageTable items={[summary({ flagged: true })]} />);
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.getByText("flagged")).toBeTruthy();
  });

  it("flags and unflags through its toggles, which say the state they show", () => {
    const onFlag = vi.fn();
    const items = [summary({}), summary({ id: "01B", subject: "Lunch", flagged: true })];
    render(<MessageTable items={items} onFlag={onFlag} pending={new Set(["01B"])} />);
    const off = screen.getByRole("button", { name: "Flagged: Quarterly figures" });
    expect(off.getAttribute("aria-pressed")).toBe("false");
    fireEvent.click(off);
    expect(onFlag).toHaveBeenCalledWith(items[0], true);
    // A change on its way: that toggle waits.
    const on = screen.getByRole("button", { name: "Flagged: Lunch", pressed: true }) as HTMLButtonElement;
    expect(on.disabled).toBe(true);
  });
});
