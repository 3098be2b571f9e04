// The mailbox users in the token's scope (GET /api/v1/users): created here, and each
// user's quota read and set (GET/PUT /api/v1/users/{id}/quota).
import { Fragment, useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { PageTitle } from "../shell/PageTitle";
import { CreateUser } from "../users/CreateUser";
import { QuotaEditor } from "../users/QuotaEditor";
import { formatBytes } from "../format/bytes";
import { describeLimit, describeSetting } from "../users/quota";


type User = Schemas["UserOut"];

const ROLE_WORDS: Record<string, string> = { user: "user", tenant_admin: "tenant admin" };

export function Users() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  useEffect(() => {
    unwrap(api.GET("/api/v1/users"))
      .then((list) => setUsers(list.items))
      .catch((failure) => setError(describe(failure)));
  }, []);

  function created(user: User) {
    setUsers((list) => [...(list ?? []), user]);
    setDone(`${user.address} was created.`);
  }

  function saved(quota: Schemas["QuotaOut"]) {
    setUsers((list) => (list ?? []).map((u) => (u.id === quota.user_id ? { ...u, quota_bytes: quota.quota_bytes } : u)));
    setEditing(null);
    setDone(`The quota of ${quota.address} is ${describeSetting(quota.quota_bytes)} (in force: ${describeLimit(quota.limit_bytes)}).`);
  }

  return (
    <section>
      <PageTitle text="Users" />
      {error && <p className="error" role="alert">{error}</p>}
      {done && <p className="notice" role="status">{done}</p>}
      {users === null && !error && <p role="status">Loading…</p>}
      {users && users.length === 0 && <p>No mailbox users yet: create the first one below.</p>}
      {users && users.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">Mailbox users</caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Role</th>
              <th scope="col">May sign in</th>
              <th scope="col">Used</th>
              <th scope="col">Quota</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <Fragment key={user.id}>
                <tr>
                  <td>{user.address}</td>
                  <td>{ROLE_WORDS[user.role] ?? user.role}</td>
                  <td>{user.has_password ? "yes" : "no"}</td>
                  <td>{formatBytes(user.used_bytes)}</td>
                  <td>{describeSetting(user.quota_bytes ?? null)}</td>
                  <td>
                    <button
                      type="button"
                      className="button secondary"
                      aria-expanded={editing === user.id}
                      aria-label={`Edit quota of ${user.address}`}
                      onClick={() => setEditing(editing === user.id ? null : user.id)}
                    >
                      Edit quota
                    </button>
                  </td>
                </tr>
                {editing === user.id && (
                  <tr>
                    <td colSpan={6}>
                      <QuotaEditor userId={user.id} address={user.address} onSaved={saved} onCancel={() => setEditing(null)} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <CreateUser onCreated={created} />
    </section>
  );
}
