// Who is signed in: the token, what the API says it is (GET /api/v1/auth/me), and, for a
// token made by a password log-in, its id (sign-out revokes it). Kept in sessionStorage:
// gone when the tab closes, never shared with other tabs or written to disk by us.
import { api, unwrap, type Schemas } from "../api/client";

export type Me = Schemas["WhoAmI"];
export type Role = Me["role"];

export interface Session {
  token: string;
  me: Me;
  loginTokenId: string | null;
}

const KEY = "mairust.session";

export function loadSession(): Session | null {
  const stored = sessionStorage.getItem(KEY);
  if (!stored) return null;
  try {
    const session = JSON.parse(stored) as Session;
    return typeof session.token === "string" && session.me ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

/** What the API says ``token`` is; an ApiError (401) when it accepts no such token. */
export async function whoIs(token: string): Promise<Me> {
  return unwrap(
    api.GET("/api/v1/auth/me", { headers: { Authorization: `Bearer ${token}` } }),
  );
}

export async function signInWithToken(token: string): Promise<Session> {
  return { token, me: await whoIs(token), loginTokenId: null };
}

/** A one-hour token for a user's password (POST /api/v1/auth/token). */
export async function signInWithPassword(address: string, password: string): Promise<Session> {
  const issued = await unwrap(
    api.POST("/api/v1/auth/token", { body: { address, password } }),
  );
  return { token: issued.token, me: await whoIs(issued.token), loginTokenId: issued.id };
}

/** Revoke a log-in token (best effort: signing out never waits on the server). */
export async function revokeLogIn(session: Session): Promise<void> {
  if (!session.loginTokenId) return;
  try {
    await api.DELETE("/api/v1/tokens/{token_id}", {
      params: { path: { token_id: session.loginTokenId } },
      headers: { Authorization: `Bearer ${session.token}` },
    });
  } catch {
    // Unreachable server: the token still expires within the hour.
  }
}

export const ROLE_NAMES: Record<Role, string> = {
  admin: "Platform admin",
  tenant_admin: "Tenant admin",
  user: "User",
};
