// What a token may be made with (at most the caller's role and permissions, as the API
// rules), the create form turned into the API's body, and a listed token's state.
import type { Schemas } from "../api/client";
import type { Me, Role } from "../auth/session";

export type Token = Schemas["TokenOut"];
export type TokenCreate = Schemas["TokenCreate"];
export type Permission = Schemas["Permission"];

/** Every permission of the API's enum, in the order shown. */
export const PERMISSIONS = ["read", "write", "send", "admin"] as const satisfies readonly Permission[];
type Unlisted = Exclude<Permission, (typeof PERMISSIONS)[number]>;
/** Does not compile when the API's enum gains a permission the list above lacks. */
export const EVERY_PERMISSION_LISTED: [Unlisted] extends [never] ? true : never = true;

export const PERMISSION_WORDS: Record<Permission, string> = {
  read: "read: list and read mail, domains, users",
  write: "write: change mail (tags, folders, flags)",
  send: "send: send mail through the API",
  admin: "admin: manage users, domains, tokens",
};

const RANK: Record<Role, number> = { user: 0, tenant_admin: 1, admin: 2 };

/** The roles the caller may give a token: its own and those below, highest first. */
export function issuableRoles(me: Me): Role[] {
  return (Object.keys(RANK) as Role[])
    .filter((role) => RANK[role] <= RANK[me.role])
    .sort((a, b) => RANK[b] - RANK[a]);
}

/** The permissions the caller may give a token: those it holds. */
export function issuablePermissions(me: Me): Permission[] {
  return PERMISSIONS.filter((p) => me.permissions.includes(p));
}

/** Whether the form must name a tenant: a platform admin making a tenant admin's token
 * (a user's token takes its mailbox's tenant). */
export function needsTenant(me: Me, role: Role): boolean {
  return me.role === "admin" && role === "tenant_admin";
}

/** Whether the form must name a mailbox: a user's token is confined to one. */
export function needsMailbox(me: Me, role: Role): boolean {
  return role === "user" && me.role !== "user";
}

export interface TokenFields {
  name: string;
  permissions: readonly Permission[];
  role: Role;
  tenantId: string;
  mailboxId: string;
  /** The last day it works (yyyy-mm-dd, the viewer's zone); empty: never expires. */
  expires: string;
}

/** The API's body for the form, or the words of what is missing. */
export function tokenRequest(
  fields: TokenFields,
  me: Me,
  now: Date = new Date(),
): { body: TokenCreate } | { problem: string } {
  const name = fields.name.trim();
  if (!name) return { problem: "Give the token a name (what it is for)." };
  if (fields.permissions.length === 0) return { problem: "Choose at least one permission." };
  const body: TokenCreate = { name, permissions: [...fields.permissions], role: fields.role };
  if (needsTenant(me, fields.role)) {
    if (!fields.tenantId) return { problem: "Choose the tenant the token is confined to." };
    body.tenant_id = fields.tenantId;
  }
  if (needsMailbox(me, fields.role)) {
    if (!fields.mailboxId) return { problem: "Choose the mailbox the token is confined to." };
    body.mailbox_id = fields.mailboxId;
  }
  if (fields.expires) {
    // Works through the whole of its last day.
    const end = new Date(`${fields.expires}T23:59:59`);
    if (Number.isNaN(end.getTime())) return { problem: "The expiry is not a date." };
    if (end <= now) return { problem: "The expiry date has passed." };
    body.expires_at = end.toISOString();
  }
  return { body };
}

export type TokenState = "active" | "expired" | "revoked";

export function tokenState(token: Token, now: Date = new Date()): TokenState {
  if (token.revoked_at) return "revoked";
  if (token.expires_at && new Date(token.expires_at) <= now) return "expired";
  return "active";
}

/** A new token as the list shows it: everything but its secret. */
export function listed(made: Schemas["TokenCreated"]): Token {
  return {
    id: made.id,
    name: made.name,
    role: made.role,
    tenant_id: made.tenant_id,
    mailbox_id: made.mailbox_id,
    permissions: made.permissions,
    created_by: made.created_by,
    created_at: made.created_at,
    expires_at: made.expires_at,
    revoked_at: made.revoked_at,
    last_used_at: made.last_used_at,
  };
}
