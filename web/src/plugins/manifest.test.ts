import { describe, expect, it } from "vitest";
import { changelogOf, configSchemaOf, secretsOf } from "./manifest";

describe("an installed plugin's manifest", () => {
  const manifest = {
    plugin: { name: "ticket-webhook", changelog: "1.0.0: first version." },
    secrets: ["signing"],
    config_schema: { type: "object", properties: {} },
  };
  it("gives its schema, changelog and secrets", () => {
    expect(configSchemaOf(manifest)).toEqual({ type: "object", properties: {} });
    expect(changelogOf(manifest)).toBe("1.0.0: first version.");
    expect(secretsOf(manifest)).toEqual(["signing"]);
  });
  it("gives nothing for what is missing or malformed", () => {
    expect(configSchemaOf({})).toEqual({});
    expect(changelogOf({ plugin: { changelog: 3 } })).toBe("");
    expect(secretsOf({ secrets: "signing" })).toEqual([]);
    expect(secretsOf(null)).toEqual([]);
  });
});
