import { describe, expect, it } from "vitest";
import type { Me, Role } from "../auth/session";
import { entryOf, homeFor, navFor } from "./nav";

function me(role: Role): Me {
  return { role, permissions: ["read"], tenant_id: null, mailbox_id: null, actor: "t" };
}

describe("navigation by role", () => {
  it("shows the dashboard to the platform admin only", () => {
    expect(navFor(me("admin")).map((e) => e.label)).toEqual(["Dashboard", "Messages", "Domains", "Users", "Tokens", "Hooks", "Plugins", "Queue", "Quarantine", "Trace", "Account"]);
    expect(navFor(me("tenant_admin")).map((e) => e.label)).toEqual(["Messages", "Domains", "Users", "Tokens", "Queue", "Quarantine", "Trace", "Account"]);
    expect(navFor(me("user")).map((e) => e.label)).toEqual(["Messages", "Quarantine", "Account"]);
  });
  it("lands the admin on the dashboard and others on their messages", () => {
    expect(homeFor(me("admin"))).toBe("/dashboard");
    expect(homeFor(me("user"))).toBe("/messages");
  });
  it("finds a page's entry by its first segment, and nothing for other paths", () => {
    expect(entryOf("/messages/01ABC")?.label).toBe("Messages");
    expect(entryOf("/domains/a.example")?.label).toBe("Domains");
    expect(entryOf("/messagesx")).toBeUndefined();
    expect(entryOf("/quarantine/01ABC")?.label).toBe("Quarantine");
    expect(entryOf("/")).toBeUndefined();
  });
});
