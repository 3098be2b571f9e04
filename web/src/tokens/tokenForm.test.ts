import { describe, expect, it } from "vitest";
import type { Me, Role } from "../auth/session";
import { issuablePermissions, issuableRoles, listed, tokenRequest, tokenState, type Token, type TokenFields } from "./tokenForm";

function me(role: Role, permissions: Me["permissions"] = ["read", "write", "send", "admin"]): Me {
  return { role, permissions, tenant_id: role === "admin" ? null : "t1", mailbox_id: null, actor: "t" };
}

const FIELDS: TokenFields = { name: " ci ", permissions: ["read"], role: "admin", tenantId: "", mailboxId: "", expires: "" };
const NOW = new Date("2026-12-01T12:00:00");

describe("token form", () => {
  it("offers the caller's role and those below, and the caller's permissions", () => {
    expect(issuableRoles(me("admin"))).toEqual(["admin", "tenant_admin", "user"]);
    expect(issuableRoles(me("tenant_admin"))).toEqual(["tenant_admin", "user"]);
    expect(issuablePermissions(me("tenant_admin", ["admin", "read"]))).toEqual(["read", "admin"]);
  });
  it("builds the API's body, trimmed, with no placement for an admin token", () => {
    expect(tokenRequest(FIELDS, me("admin"), NOW)).toEqual({ body: { name: "ci", permissions: ["read"], role: "admin" } });
  });
  it("asks for a name and a permission", () => {
    expect(tokenRequest({ ...FIELDS, name: " " }, me("admin"), NOW)).toHaveProperty("problem");
    expect(tokenRequest({ ...FIELDS, permissions: [] }, me("admin"), NOW)).toHaveProperty("problem");
  });
  it("names the tenant of a platform admin's tenant-admin token, the mailbox of a user token", () => {
    const tenant = { ...FIELDS, role: "tenant_admin" as const };
    expect(tokenRequest(tenant, me("admin"), NOW)).toHaveProperty("problem");
    expect(tokenRequest({ ...tenant, tenantId: "t9" }, me("admin"), NOW)).toEqual({
      body: { name: "ci", permissions: ["read"], role: "tenant_admin", tenant_id: "t9" },
    });
    // A tenant admin's tokens are in its own tenant: none is named.
    expect(tokenRequest(tenant, me("tenant_admin"), NOW)).toEqual({
      body: { name: "ci", permissions: ["read"], role: "tenant_admin" },
    });
    const user = { ...FIELDS, role: "user" as const };
    expect(tokenRequest(user, me("tenant_admin"), NOW)).toHaveProperty("problem");
    expect(tokenRequest({ ...user, mailboxId: "m1" }, me("tenant_admin"), NOW)).toEqual({
      body: { name: "ci", permissions: ["read"], role: "user", mailbox_id: "m1" },
    });
  });
  it("lets a token work through its last day, and refuses a past one", () => {
    const made = tokenRequest({ ...FIELDS, expires: "2026-12-02" }, me("admin"), NOW);
    expect(made).toEqual({
      body: { name: "ci", permissions: ["read"], role: "admin", expires_at: new Date("2026-12-02T23:59:59").toISOString() },
    });
    expect(tokenRequest({ ...FIELDS, expires: "2026-11-30" }, me("admin"), NOW)).toHaveProperty("problem");
  });
  it("says whether a listed token works", () => {
    const token: Token = {
      id: "1", name: "ci", role: "admin", tenant_id: null, mailbox_id: null, permissions: ["read"],
      created_by: "admin", created_at: "2026-11-01T00:00:00Z", expires_at: null, revoked_at: null, last_used_at: null,
    };
    expect(tokenState(token, NOW)).toBe("active");
    expect(tokenState({ ...token, expires_at: "2026-11-30T00:00:00Z" }, NOW)).toBe("expired");
    expect(tokenState({ ...token, revoked_at: "2026-11-30T00:00:00Z" }, NOW)).toBe("revoked");
    // A new token joins the list without its secret.
    expect(listed({ ...token, token: "mrt_secret" })).toEqual(token);
  });
});
