// A domain's aliases (each delivering to mailboxes of the domain's tenant): listed,
// added, deleted after a question; and the catch-all, set or cleared.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, describe, unwrap, type Schemas } from "../api/client";
import { aliasAddress, parseTargets } from "./aliases";
import { succeeded } from "./calls";
import { ConfirmButton } from "./ConfirmButton";

type Alias = Schemas["AliasOut"];

/** The id of the datalist of the tenant's mailboxes (the domain page renders it). */
export const MAILBOX_LIST = "domain-mailboxes";

export function Aliases({ domain }: { domain: string }) {
  const [aliases, setAliases] = useState<Alias[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [address, setAddress] = useState("");
  const [targets, setTargets] = useState("");
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const list = await unwrap(api.GET("/api/v1/domains/{domain}/aliases", { params: { path: { domain } } }));
      setAliases(list.items);
    } catch (failure) {
      setError(describe(failure));
    }
  }, [domain]);

  useEffect(() => {
    void load();
  }, [load]);

  async function add(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await unwrap(
        api.POST("/api/v1/domains/{domain}/aliases", {
          params: { path: { domain } },
          body: { address: aliasAddress(address, domain), targets: parseTargets(targets, domain) },
        }),
      );
      setAddress("");
      setTargets("");
      await load();
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  async function remove(alias: Alias) {
    try {
      await succeeded(
        api.DELETE("/api/v1/domains/{domain}/aliases/{address}", {
          params: { path: { domain, address: alias.address } },
        }),
      );
      setError(null);
      await load();
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <section aria-labelledby="aliases-heading">
      <h2 id="aliases-heading">Aliases</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {aliases === null && !error && <p role="status">Loading…</p>}
      {aliases && aliases.length === 0 && <p>No aliases: add one below to deliver an address to mailboxes.</p>}
      {aliases && aliases.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">Aliases of {domain}</caption>
          <thead>
            <tr>
              <th scope="col">Alias</th>
              <th scope="col">Delivers to</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {aliases.map((alias) => (
              <tr key={alias.address}>
                <th scope="row">{alias.address}</th>
                <td>{alias.targets.join(", ")}</td>
                <td>
                  <ConfirmButton
                    label="Delete"
                    name={`Delete ${alias.address}`}
                    question={`Delete ${alias.address}? Its mail is refused (or goes to the catch-all) then.`}
                    confirm="Yes, delete"
                    onConfirm={() => remove(alias)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="form-row" onSubmit={add} aria-label="Add an alias">
        <div className="field">
          <label htmlFor="alias-address">Alias address</label>
          <input id="alias-address" required value={address} onChange={(e) => setAddress(e.target.value)} placeholder={`team@${domain}`} />
        </div>
        <div className="field wide">
          <label htmlFor="alias-targets">Delivers to</label>
          <input
            id="alias-targets"
            required
            list={MAILBOX_LIST}
            value={targets}
            onChange={(e) => setTargets(e.target.value)}
            aria-describedby="alias-targets-hint"
          />
        </div>
        <div className="actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? "Adding…" : "Add alias"}
          </button>
        </div>
      </form>
      <p id="alias-targets-hint" className="hint">
        Mailboxes of this domain's tenant, separated by commas.
      </p>
    </section>
  );
}

export function CatchAll({ domain }: { domain: string }) {
  // undefined: loading; null: none.
  const [mailbox, setMailbox] = useState<string | null | undefined>(undefined);
  const [wanted, setWanted] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    unwrap(api.GET("/api/v1/domains/{domain}/catch-all", { params: { path: { domain } } }))
      .then((found) => setMailbox(found.mailbox))
      .catch((failure) => {
        // 404 is the API's "this domain has no catch-all".
        if (failure instanceof ApiError && failure.status === 404) setMailbox(null);
        else setError(describe(failure));
      });
  }, [domain]);

  async function set(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await unwrap(
        api.PUT("/api/v1/domains/{domain}/catch-all", { params: { path: { domain } }, body: { mailbox: aliasAddress(wanted, domain) } }),
      );
      setMailbox(made.mailbox);
      setWanted("");
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  async function clear() {
    try {
      await succeeded(api.DELETE("/api/v1/domains/{domain}/catch-all", { params: { path: { domain } } }));
      setMailbox(null);
      setError(null);
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <section aria-labelledby="catchall-heading">
      <h2 id="catchall-heading">Catch-all</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {mailbox === undefined && !error && <p role="status">Loading…</p>}
      {mailbox === null && <p>No catch-all: mail for unknown addresses of {domain} is refused.</p>}
      {mailbox && (
        <p className="toolbar">
          <span>
            Mail for unknown addresses goes to <strong>{mailbox}</strong>.
          </span>
          <ConfirmButton
            label="Clear catch-all"
            question="Clear the catch-all? Mail for unknown addresses is refused then."
            confirm="Yes, clear"
            onConfirm={clear}
          />
        </p>
      )}
      <form className="form-row" onSubmit={set} aria-label="Set the catch-all">
        <div className="field wide">
          <label htmlFor="catchall-mailbox">Catch-all mailbox</label>
          <input id="catchall-mailbox" required list={MAILBOX_LIST} value={wanted} onChange={(e) => setWanted(e.target.value)} />
        </div>
        <div className="actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? "Setting…" : "Set catch-all"}
          </button>
        </div>
      </form>
    </section>
  );
}
