import { describe, expect, it } from "vitest";
import { aliasAddress, parseTargets } from "./aliases";

describe("alias form", () => {
  it("completes a bare local part with the domain", () => {
    expect(aliasAddress(" team ", "a.example")).toBe("team@a.example");
    expect(aliasAddress("team@a.example", "a.example")).toBe("team@a.example");
    expect(aliasAddress("  ", "a.example")).toBe("");
  });
  it("splits targets on commas, spaces and lines, each once", () => {
    expect(parseTargets("jane, joe@a.example\nJane@a.example;; ", "a.example")).toEqual([
      "jane@a.example",
      "joe@a.example",
    ]);
    expect(parseTargets("", "a.example")).toEqual([]);
  });
});
