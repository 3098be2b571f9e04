import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { MessageActions } from "./MessageActions";

const FOLDERS = ["INBOX", "Trash", "Junk", "Quarantine", "Archive"];

function bar(over: Partial<Parameters<typeof MessageActions>[0]["message"]> = {}, busy = false) {
  const calls = { onFlags: vi.fn(), onTags: vi.fn(), onMove: vi.fn(), onDelete: vi.fn() };
  const message = { subject: "Invoice", folder: "INBOX", tags: ["q3"], seen: false, flagged: false, ...over };
  render(<MessageActions message={message} folders={FOLDERS} busy={busy} {...calls} />);
  return calls;
}

describe("the reading view's action bar", () => {
  it("flags and marks read, or unflags and marks unread, by the message's state", () => {
    const first = bar();
    fireEvent.click(screen.getByRole("button", { name: "Flag" }));
    fireEvent.click(screen.getByRole("button", { name: "Mark as read" }));
    expect(first.onFlags.mock.calls).toEqual([[{ flagged: true }], [{ seen: true }]]);
  });

  it("offers the opposite once flagged and read", () => {
    const calls = bar({ flagged: true, seen: true });
    fireEvent.click(screen.getByRole("button", { name: "Unflag" }));
    fireEvent.click(screen.getByRole("button", { name: "Mark as unread" }));
    expect(calls.onFlags.mock.calls).toEqual([[{ flagged: false }], [{ seen: false }]]);
  });

  it("adds a tag as typed (trimmed) and removes one by its button", () => {
    const calls = bar();
    const add = screen.getByRole("button", { name: "Add tag" }) as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("New tag"), { target: { value: " urgent " } });
    fireEvent.click(add);
    fireEvent.click(screen.getByRole("button", { name: "Remove tag q3" }));
    expect(calls.onTags.mock.calls).toEqual([[{ add: ["urgent"], remove: [] }], [{ add: [], remove: ["q3"] }]]);
    expect((screen.getByLabelText("New tag") as HTMLInputElement).value).toBe("");
  });

  it("moves to another folder, never to the one it is in nor into Quarantine", () => {
    const calls = bar();
    const select = screen.getByLabelText("Move to folder") as HTMLSelectElement;
    expect(Array.from(select.options).map((o) => o.value)).toEqual(["Trash", "Junk", "Archive"]);
    fireEvent.change(select, { target: { value: "Archive" } });
    fireEvent.click(screen.getByRole("button", { name: "Move" }));
    expect(calls.onMove).toHaveBeenCalledWith("Archive");
  });

  it("deletes to Trash only once confirmed, and not when cancelled", () => {
    const calls = bar();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(calls.onDelete).not.toHaveBeenCalled();
    expect(screen.getByRole("group", { name: "Move “Invoice” to Trash?" })).toBeTruthy();
    // The question takes the focus, and Cancel leaves everything as it was.
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Yes, move to Trash" }));
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("group")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, move to Trash" }));
    expect(calls.onDelete).toHaveBeenCalledWith(false);
  });

  it("deletes for good from Trash, warned that it cannot be undone", () => {
    const calls = bar({ folder: "Trash" });
    fireEvent.click(screen.getByRole("button", { name: "Delete for good" }));
    expect(screen.getByRole("group").textContent).toContain("cannot be brought back");
    fireEvent.keyDown(screen.getByRole("button", { name: "Yes, delete for good" }), { key: "Escape" });
    expect(calls.onDelete).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Delete for good" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete for good" }));
    expect(calls.onDelete).toHaveBeenCalledWith(true);
  });

  it("lets nothing be pressed while a change is on its way", () => {
    bar({}, true);
    const buttons = screen.getAllByRole("button") as HTMLButtonElement[];
    expect(buttons.filter((b) => !b.disabled).map((b) => b.textContent)).toEqual([]);
  });
});
