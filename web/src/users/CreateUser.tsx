// A new mailbox user: the address (of a local domain in the caller's scope), an optional
// password (without one the user cannot sign in or SMTP AUTH), and the role.
import { useState, type FormEvent } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";

type User = Schemas["UserOut"];
type MailboxRole = NonNullable<Schemas["UserCreate"]["role"]>;

/** The roles a mailbox may have (the API's enum; never the platform admin). */
const MAILBOX_ROLES = ["user", "tenant_admin"] as const satisfies readonly MailboxRole[];
const ROLE_WORDS: Record<MailboxRole, string> = { user: "User", tenant_admin: "Tenant admin" };

export function CreateUser({ onCreated }: { onCreated: (user: User) => void }) {
  const [address, setAddress] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<MailboxRole>("user");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await unwrap(
        api.POST("/api/v1/users", { body: { address: address.trim(), password: password || null, role } }),
      );
      setAddress("");
      setPassword("");
      setRole("user");
      onCreated(made);
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel" onSubmit={create} aria-labelledby="create-user-heading">
      <h2 id="create-user-heading">Create a user</h2>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="form-row">
        <div className="field">
          <label htmlFor="user-address">Address</label>
          <input id="user-address" type="email" required autoComplete="off" value={address} onChange={(e) => setAddress(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="user-password">Password</label>
          <input
            id="user-password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby="user-password-hint"
          />
        </div>
        <div className="field">
          <label htmlFor="user-role">Role</label>
          <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as MailboxRole)}>
            {MAILBOX_ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_WORDS[r]}
              </option>
            ))}
          </select>
        </div>
        <div className="actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? "Creating…" : "Create user"}
          </button>
        </div>
      </div>
      <p id="user-password-hint" className="hint">
        Optional: without a password the user can neither sign in nor send with SMTP AUTH. The address must be of one of
        your domains.
      </p>
    </form>
  );
}
