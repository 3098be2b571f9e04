import { describe, expect, it } from "vitest";
import { filterRows, galleryRows, type OfferLike } from "./gallery";

const offer = (name: string, version: string, more: Partial<OfferLike> = {}): OfferLike => ({
  name,
  version,
  description: `${name} does things`,
  transport: "serve",
  runs_here: true,
  upgradable: false,
  ...more,
});

describe("the gallery's rows", () => {
  const rows = galleryRows(
    [
      { name: "header-rules", version: "1.0.0", enabled: true, description: "Tags by headers", transport: "serve" },
      { name: "local-only", version: "0.1.0", enabled: false, description: "From a directory", transport: "http" },
    ],
    [
      offer("header-rules", "1.1.0", { upgradable: true }),
      offer("ticket-webhook", "1.0.0", { transport: "webhook" }),
      offer("future-rules", "2.0.0", { runs_here: false }),
    ],
  );

  it("puts installed and catalog plugins in one list by name", () => {
    expect(rows.map((r) => [r.name, r.version, r.state, r.newer, r.installed])).toEqual([
      ["future-rules", "2.0.0", "not for this MaiRust", null, false],
      ["header-rules", "1.0.0", "on", "1.1.0", true],
      ["local-only", "0.1.0", "off", null, true],
      ["ticket-webhook", "1.0.0", "available", null, false],
    ]);
  });

  it("filters by every word typed, in name, description, transport or state", () => {
    expect(filterRows(rows, "").length).toBe(4);
    expect(filterRows(rows, "  WEBHOOK ").map((r) => r.name)).toEqual(["ticket-webhook"]);
    expect(filterRows(rows, "rules on").map((r) => r.name)).toEqual(["header-rules"]);
    expect(filterRows(rows, "catalog").map((r) => r.name)).toEqual(["ticket-webhook"]);
    expect(filterRows(rows, "nothing-like-it")).toEqual([]);
  });
});
