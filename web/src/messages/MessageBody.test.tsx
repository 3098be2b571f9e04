import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { HeaderTable, MessageBody } from "./MessageBody";

function detail(over: Partial<Schemas["MessageDetail"]>): Schemas["MessageDetail"] {
  return { html: null, text: null, headers: [], ...over } as unknown as Schemas["MessageDetail"];
}

describe("MessageBody", () => {
  it("puts HTML in a frame with a sandbox that allows nothing", () => {
    render(<MessageBody message={detail({ html: "<p>hi</p><script>x()</script>" })} headingId="b" />);
    const frame = screen.getByTitle("The message's HTML body");
    expect(frame.getAttribute("sandbox")).toBe("");
    expect(frame.getAttribute("referrerpolicy")).toBe("no-referrer");
    expect(frame.getAttribute("srcdoc")).toContain("<script>");
    expect(screen.getByRole("heading", { name: "Body" }).id).toBe("b");
  });

  it("shows the text when there is no HTML, and says when there is neither", () => {
    const { rerender } = render(<MessageBody message={detail({ text: "plain words" })} headingId="b" />);
    expect(screen.getByText("plain words")).toBeTruthy();
    expect(screen.queryByTitle("The message's HTML body")).toBeNull();
    rerender(<MessageBody message={detail({})} headingId="b" />);
    expect(screen.getByText("(no text body)")).toBeTruthy();
  });
});

describe("HeaderTable", () => {
  it("lists every header in order and counts them", () => {
    const headers = [
      { name: "Received", value: "from a" },
      { name: "Subject", value: "hello" },
    ];
    render(<HeaderTable headers={headers} />);
    expect(screen.getByText("All headers (2)")).toBeTruthy();
    const names = screen.getAllByRole("rowheader").map((cell) => cell.textContent);
    expect(names).toEqual(["Received", "Subject"]);
  });
});
