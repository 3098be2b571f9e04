import { describe, expect, it } from "vitest";
import { DKIM_ALGORITHMS, generatable, orderKeys, type DkimKey } from "./dkim";

function key(selector: string, algorithm: DkimKey["algorithm"], state: DkimKey["state"], created: string): DkimKey {
  return {
    id: selector,
    domain: "a.example",
    selector,
    algorithm,
    state,
    public_key: "AAA",
    dns_name: `${selector}._domainkey.a.example`,
    dns_record: "v=DKIM1; p=AAA",
    created_at: created,
    retired_at: state === "retired" ? created : null,
  };
}

describe("DKIM keys", () => {
  it("offers every algorithm while no key is active", () => {
    expect(generatable([])).toEqual([...DKIM_ALGORITHMS]);
  });
  it("offers only the algorithms without an active key", () => {
    const keys = [key("a", "rsa2048", "active", "2026-12-01T00:00:00Z"), key("b", "ed25519", "retired", "2026-11-01T00:00:00Z")];
    expect(generatable(keys)).toEqual(["ed25519"]);
  });
  it("lists active keys first, newest first", () => {
    const keys = [
      key("old", "rsa2048", "retired", "2026-10-01T00:00:00Z"),
      key("ed", "ed25519", "active", "2026-11-01T00:00:00Z"),
      key("new", "rsa2048", "active", "2026-12-01T00:00:00Z"),
    ];
    expect(orderKeys(keys).map((k) => k.selector)).toEqual(["new", "ed", "old"]);
  });
});
