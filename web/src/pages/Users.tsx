// The mailbox users in the token's scope (GET /api/v1/users), read-only for now.
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { PageTitle } from "../shell/PageTitle";

const ROLE_WORDS: Record<string, string> = { user: "user", tenant_admin: "tenant admin" };

export function Users() {
  const [users, setUsers] = useState<Schemas["UserOut"][] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    unwrap(api.GET("/api/v1/users"))
      .then((list) => setUsers(list.items))
      .catch((failure) => setError(describe(failure)));
  }, []);

  return (
    <section>
      <PageTitle text="Users" />
      {error && <p className="error" role="alert">{error}</p>}
      {users === null && !error && <p role="status">Loading…</p>}
      {users && users.length === 0 && <p>No mailbox users yet.</p>}
      {users && users.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">Mailbox users</caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Role</th>
              <th scope="col">May sign in</th>
              <th scope="col">Used</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr key={user.id}>
                <td>{user.address}</td>
                <td>{ROLE_WORDS[user.role] ?? user.role}</td>
                <td>{user.has_password ? "yes" : "no"}</td>
                <td>{formatBytes(user.used_bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
