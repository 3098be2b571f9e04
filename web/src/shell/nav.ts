// What each role is shown. The API is the rule (it refuses what a token may not do);
// this only keeps the UI from offering pages whose calls would be refused.
import type { Me, Role } from "../auth/session";

export interface NavEntry {
  path: string;
  label: string;
  roles: readonly Role[];
}

const EVERYONE: readonly Role[] = ["admin", "tenant_admin", "user"];

export const NAV: readonly NavEntry[] = [
  // GET /api/v1/stats is the platform admin's only.
  { path: "/dashboard", label: "Dashboard", roles: ["admin"] },
  { path: "/messages", label: "Messages", roles: EVERYONE },
  // DKIM keys, aliases and the catch-all are the admins' (a user may read the DNS only).
  { path: "/domains", label: "Domains", roles: ["admin", "tenant_admin"] },
  // A user's list holds only their own mailbox: not worth a page.
  { path: "/users", label: "Users", roles: ["admin", "tenant_admin"] },
  // POST /api/v1/tokens needs the admin permission: a user's token cannot make tokens.
  { path: "/tokens", label: "Tokens", roles: ["admin", "tenant_admin"] },
  // /api/v1/admin/hooks* is the platform admin's only.
  { path: "/hooks", label: "Hooks", roles: ["admin"] },
  // /api/v1/admin/plugins* and the catalog are the platform admin's only.
  { path: "/plugins", label: "Plugins", roles: ["admin"] },
  // The outbound queue and the event log are the tenant's (a tenant admin sees its own);
  // held mail is a mailbox's, so a user sees and releases their own.
  { path: "/queue", label: "Queue", roles: ["admin", "tenant_admin"] },
  { path: "/quarantine", label: "Quarantine", roles: EVERYONE },
  { path: "/trace", label: "Trace", roles: ["admin", "tenant_admin"] },
  { path: "/account", label: "Account", roles: EVERYONE },
];

export function navFor(me: Me): NavEntry[] {
  return NAV.filter((entry) => entry.roles.includes(me.role));
}

/** The entry a path belongs to (its first segment), if any. */
export function entryOf(path: string): NavEntry | undefined {
  return NAV.find((entry) => path === entry.path || path.startsWith(entry.path + "/"));
}

/** Where a signed-in person lands. */
export function homeFor(me: Me): string {
  return me.role === "admin" ? "/dashboard" : "/messages";
}
