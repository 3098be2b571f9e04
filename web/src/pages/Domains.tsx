// The local domains in the token's scope, each a link to its DNS records, DKIM keys and
// aliases; the platform admin adds domains here (the API lets no other role).
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import type { Me } from "../auth/session";
import { PageTitle } from "../shell/PageTitle";
import { Link, navigate } from "../shell/router";

type Domain = Schemas["DomainOut"];

export function Domains({ me }: { me: Me }) {
  const [domains, setDomains] = useState<Domain[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    unwrap(api.GET("/api/v1/domains"))
      .then((list) => {
        setDomains(list.items);
        setError(null);
      })
      .catch((failure) => setError(describe(failure)));
  }, []);
  useEffect(load, [load]);

  return (
    <section>
      <PageTitle text="Domains" />
      {error && <p className="error" role="alert">{error}</p>}
      {domains === null && !error && <p role="status">Loading…</p>}
      {domains && domains.length === 0 && (
        <p role="status">
          No domains yet.{" "}
          {me.role === "admin" ? "Add the first one below." : "A platform admin adds your tenant's domains."}
        </p>
      )}
      {domains && domains.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">Local domains</caption>
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Tenant</th>
              <th scope="col">Added</th>
            </tr>
          </thead>
          <tbody>
            {domains.map((domain) => (
              <tr key={domain.name}>
                <td>
                  <Link to={`/domains/${encodeURIComponent(domain.name)}`}>{domain.name}</Link>
                </td>
                <td>{domain.tenant}</td>
                <td>{new Date(domain.created_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {me.role === "admin" && <AddDomain />}
    </section>
  );
}

function AddDomain() {
  const [tenants, setTenants] = useState<Schemas["TenantOut"][]>([]);
  const [name, setName] = useState("");
  const [tenant, setTenant] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // Only suggestions: a name the list lacks makes a new tenant.
    unwrap(api.GET("/api/v1/tenants"))
      .then((list) => setTenants(list.items))
      .catch(() => setTenants([]));
  }, []);

  async function add(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await unwrap(
        api.POST("/api/v1/domains", { body: { name: name.trim(), tenant: tenant.trim() || null } }),
      );
      navigate(`/domains/${encodeURIComponent(made.name)}`);
    } catch (failure) {
      setError(describe(failure));
      setBusy(false);
    }
  }

  return (
    <form className="panel" onSubmit={add} aria-labelledby="add-domain-heading">
      <h2 id="add-domain-heading">Add a domain</h2>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="form-row">
        <div className="field">
          <label htmlFor="domain-name">Domain name</label>
          <input id="domain-name" required value={name} onChange={(e) => setName(e.target.value)} placeholder="example.com" />
        </div>
        <div className="field">
          <label htmlFor="domain-tenant">Tenant</label>
          <input
            id="domain-tenant"
            list="tenant-names"
            value={tenant}
            onChange={(e) => setTenant(e.target.value)}
            aria-describedby="domain-tenant-hint"
          />
          <datalist id="tenant-names">
            {tenants.map((t) => (
              <option key={t.id} value={t.name} />
            ))}
          </datalist>
        </div>
        <div className="actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? "Adding…" : "Add domain"}
          </button>
        </div>
      </div>
      <p id="domain-tenant-hint" className="hint">
        An existing tenant's name, or a new one (it is created); empty: a tenant named like the domain.
      </p>
    </form>
  );
}
