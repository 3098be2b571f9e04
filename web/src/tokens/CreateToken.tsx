// A new API token: a name, permissions and role (at most the caller's), the tenant or
// mailbox it is confined to when the role needs one, and an optional last day.
import { useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { ROLE_NAMES, type Me, type Role } from "../auth/session";
import {
  issuablePermissions,
  issuableRoles,
  needsMailbox,
  needsTenant,
  PERMISSION_WORDS,
  tokenRequest,
  type Permission,
} from "./tokenForm";

export function CreateToken({ me, onCreated }: { me: Me; onCreated: (made: Schemas["TokenCreated"]) => void }) {
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState<Permission[]>(["read"]);
  const [role, setRole] = useState<Role>(me.role);
  const [tenantId, setTenantId] = useState("");
  const [mailboxId, setMailboxId] = useState("");
  const [expires, setExpires] = useState("");
  const [tenants, setTenants] = useState<Schemas["TenantOut"][]>([]);
  const [users, setUsers] = useState<Schemas["UserOut"][]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tenantNeeded = needsTenant(me, role);
  const mailboxNeeded = needsMailbox(me, role);

  useEffect(() => {
    if (tenantNeeded && tenants.length === 0) {
      unwrap(api.GET("/api/v1/tenants"))
        .then((list) => setTenants(list.items))
        .catch((failure) => setError(describe(failure)));
    }
  }, [tenantNeeded, tenants.length]);

  useEffect(() => {
    if (mailboxNeeded && users.length === 0) {
      unwrap(api.GET("/api/v1/users"))
        .then((list) => setUsers(list.items))
        .catch((failure) => setError(describe(failure)));
    }
  }, [mailboxNeeded, users.length]);

  function toggle(permission: Permission, on: boolean) {
    setPermissions((held) => (on ? [...held, permission] : held.filter((p) => p !== permission)));
  }

  async function create(event: FormEvent) {
    event.preventDefault();
    const wanted = tokenRequest({ name, permissions, role, tenantId, mailboxId, expires }, me);
    if ("problem" in wanted) {
      setError(wanted.problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const made = await unwrap(api.POST("/api/v1/tokens", { body: wanted.body }));
      setName("");
      setExpires("");
      onCreated(made);
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel" onSubmit={create} aria-labelledby="create-token-heading">
      <h2 id="create-token-heading">Create a token</h2>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="form-row">
        <div className="field">
          <label htmlFor="token-name">Name</label>
          <input id="token-name" required value={name} onChange={(e) => setName(e.target.value)} placeholder="what it is for" />
        </div>
        <div className="field">
          <label htmlFor="token-role">Role</label>
          <select id="token-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {issuableRoles(me).map((r) => (
              <option key={r} value={r}>
                {ROLE_NAMES[r]}
              </option>
            ))}
          </select>
        </div>
        {tenantNeeded && (
          <div className="field">
            <label htmlFor="token-tenant">Tenant</label>
            <select id="token-tenant" required value={tenantId} onChange={(e) => setTenantId(e.target.value)}>
              <option value="">choose…</option>
              {tenants.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
        )}
        {mailboxNeeded && (
          <div className="field">
            <label htmlFor="token-mailbox">Mailbox</label>
            <select id="token-mailbox" required value={mailboxId} onChange={(e) => setMailboxId(e.target.value)}>
              <option value="">choose…</option>
              {users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.address}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor="token-expires">Last day (optional)</label>
          <input id="token-expires" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} aria-describedby="token-expires-hint" />
        </div>
      </div>
      <p id="token-expires-hint" className="hint">
        The token works through that day; empty: it never expires.
      </p>
      <fieldset className="permissions">
        <legend>Permissions</legend>
        {issuablePermissions(me).map((p) => (
          <label key={p}>
            <input type="checkbox" checked={permissions.includes(p)} onChange={(e) => toggle(p, e.target.checked)} />
            {PERMISSION_WORDS[p]}
          </label>
        ))}
      </fieldset>
      <div className="actions">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}
