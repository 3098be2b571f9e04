import { describe, expect, it } from "vitest";
import { describeLimit, describeSetting, quotaBytes, quotaForm } from "./quota";

describe("quota form", () => {
  it("turns each mode into the API's quota_bytes", () => {
    expect(quotaBytes({ mode: "default", amount: "", unit: "MiB" })).toEqual({ bytes: null });
    expect(quotaBytes({ mode: "unlimited", amount: "5", unit: "MiB" })).toEqual({ bytes: 0 });
    expect(quotaBytes({ mode: "limit", amount: "5", unit: "MiB" })).toEqual({ bytes: 5 * 1024 ** 2 });
    expect(quotaBytes({ mode: "limit", amount: "1.5", unit: "GiB" })).toEqual({ bytes: 1.5 * 1024 ** 3 });
  });
  it("refuses an amount that is not a positive number, or too large", () => {
    for (const amount of ["", "0", "-1", "many"]) {
      expect(quotaBytes({ mode: "limit", amount, unit: "MiB" })).toHaveProperty("problem");
    }
    expect(quotaBytes({ mode: "limit", amount: "1e9", unit: "GiB" })).toHaveProperty("problem");
  });
  it("shows a setting in the unit it was given in", () => {
    expect(quotaForm(null).mode).toBe("default");
    expect(quotaForm(0).mode).toBe("unlimited");
    expect(quotaForm(2 * 1024 ** 3)).toEqual({ mode: "limit", amount: "2", unit: "GiB" });
    expect(quotaForm(5 * 1024 ** 2)).toEqual({ mode: "limit", amount: "5", unit: "MiB" });
  });
  it("describes limits and settings in words", () => {
    expect(describeLimit(0)).toBe("unlimited");
    expect(describeLimit(5 * 1024 ** 2)).toBe("5 MiB");
    expect(describeLimit(1536 * 1024 ** 2)).toBe("1.5 GiB");
    expect(describeLimit(100)).toBe("100 B");
    expect(describeSetting(null)).toBe("platform default");
  });
});
