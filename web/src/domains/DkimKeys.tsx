// A domain's DKIM keys: the active and retired ones with the record each publishes (the
// private half never leaves the server), a new key of an algorithm without an active
// one, and rotation of an active key, asked first.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap } from "../api/client";
import { ConfirmButton } from "./ConfirmButton";
import { ALGORITHM_NAMES, generatable, orderKeys, type DkimAlgorithm, type DkimKey } from "./dkim";

interface DkimKeysProps {
  domain: string;
  /** The keys changed: the DNS records to publish did too. */
  onChanged: () => void;
}

export function DkimKeys({ domain, onChanged }: DkimKeysProps) {
  const [keys, setKeys] = useState<DkimKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const list = await unwrap(api.GET("/api/v1/domains/{domain}/dkim-keys", { params: { path: { domain } } }));
      setKeys(orderKeys(list.items));
    } catch (failure) {
      setError(describe(failure));
    }
  }, [domain]);

  useEffect(() => {
    void load();
  }, [load]);

  async function changed(what: string) {
    setDone(what);
    setError(null);
    await load();
    onChanged();
  }

  async function rotate(key: DkimKey) {
    try {
      const made = await unwrap(
        api.POST("/api/v1/domains/{domain}/dkim-keys/rotate", {
          params: { path: { domain } },
          body: { algorithm: key.algorithm },
        }),
      );
      await changed(`${key.selector} was retired; mail is signed with ${made.items.map((k) => k.selector).join(", ")} now.`);
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <section aria-labelledby="dkim-heading">
      <h2 id="dkim-heading">DKIM keys</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {done && <p className="notice" role="status">{done}</p>}
      {keys === null && !error && <p role="status">Loading…</p>}
      {keys && keys.length === 0 && <p>No DKIM key yet: generate one below, then publish its record.</p>}
      {keys && keys.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">DKIM keys of {domain}, active first</caption>
          <thead>
            <tr>
              <th scope="col">Selector</th>
              <th scope="col">Algorithm</th>
              <th scope="col">State</th>
              <th scope="col">Made</th>
              <th scope="col">Public record</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id}>
                <th scope="row">{key.selector}</th>
                <td>{ALGORITHM_NAMES[key.algorithm]}</td>
                <td>
                  {key.state}
                  {key.retired_at && <span className="muted"> since {new Date(key.retired_at).toLocaleString()}</span>}
                </td>
                <td>{new Date(key.created_at).toLocaleString()}</td>
                <td>
                  <details className="in-cell">
                    <summary>
                      TXT record<span className="visually-hidden"> of {key.selector}</span>
                    </summary>
                    <p className="dns-value">{key.dns_name}</p>
                    <pre className="record-text" aria-label={`TXT record of ${key.selector}`}>
                      {key.dns_record}
                    </pre>
                  </details>
                </td>
                <td>
                  {key.state === "active" && (
                    <ConfirmButton
                      label="Rotate"
                      name={`Rotate ${key.selector}`}
                      question={`Replace ${key.selector} with a new key? Its record stays published for the grace period.`}
                      confirm="Yes, rotate"
                      onConfirm={() => rotate(key)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {keys && <NewKey domain={domain} offered={generatable(keys)} onMade={(k) => changed(`${k.selector} (${k.algorithm}) is active: publish its record.`)} onError={setError} />}
    </section>
  );
}

interface NewKeyProps {
  domain: string;
  offered: DkimAlgorithm[];
  onMade: (key: DkimKey) => Promise<void>;
  onError: (words: string) => void;
}

function NewKey({ domain, offered, onMade, onError }: NewKeyProps) {
  const [algorithm, setAlgorithm] = useState<DkimAlgorithm | "">("");
  const [selector, setSelector] = useState("");
  const [busy, setBusy] = useState(false);
  const chosen = algorithm && offered.includes(algorithm) ? algorithm : offered[0];

  if (!chosen) {
    return <p className="muted">Every algorithm has an active key: rotate one to replace it.</p>;
  }

  const generate = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const made = await unwrap(
        api.POST("/api/v1/domains/{domain}/dkim-keys", {
          params: { path: { domain } },
          body: { algorithm: chosen, selector: selector.trim() || null },
        }),
      );
      setSelector("");
      await onMade(made);
    } catch (failure) {
      onError(describe(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form-row" onSubmit={generate} aria-label="Generate a DKIM key">
      <div className="field">
        <label htmlFor="dkim-algorithm">Algorithm</label>
        <select id="dkim-algorithm" value={chosen} onChange={(e) => setAlgorithm(e.target.value as DkimAlgorithm)}>
          {offered.map((a) => (
            <option key={a} value={a}>
              {ALGORITHM_NAMES[a]}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="dkim-selector">Selector (optional)</label>
        <input id="dkim-selector" value={selector} onChange={(e) => setSelector(e.target.value)} placeholder="default: mr<year><month>" />
      </div>
      <div className="actions">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Generating…" : "Generate key"}
        </button>
      </div>
    </form>
  );
}
