import { describe, expect, it } from "vitest";
import { niceCeiling, ticks } from "./scale";

describe("niceCeiling", () => {
  it("rounds up to 1, 2 or 5 times a power of ten", () => {
    expect([0, 0.3, 1, 1.5, 3, 7, 10, 11, 26, 99, 101, 4999].map(niceCeiling)).toEqual([
      1, 1, 1, 2, 5, 10, 10, 20, 50, 100, 200, 5000,
    ]);
  });
  it("never goes below the value", () => {
    for (let v = 0; v < 5000; v += 37) expect(niceCeiling(v)).toBeGreaterThanOrEqual(v);
  });
});

describe("ticks", () => {
  it("has a middle tick only when it is a whole number (or the axis is small)", () => {
    expect(ticks(10)).toEqual([0, 5, 10]);
    expect(ticks(5)).toEqual([0, 5]);
    expect(ticks(1)).toEqual([0, 0.5, 1]);
  });
});
