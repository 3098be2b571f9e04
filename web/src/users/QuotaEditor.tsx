// One user's quota: the limit in force and what the mailbox takes (GET .../quota), and
// its own setting changed (PUT .../quota): the platform default, unlimited, or a size.
import { useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { formatBytes } from "../format/bytes";
import { describeLimit, quotaBytes, quotaForm, type QuotaForm, type QuotaMode, type QuotaUnit } from "./quota";

type Quota = Schemas["QuotaOut"];

interface QuotaEditorProps {
  userId: string;
  address: string;
  onSaved: (quota: Quota) => void;
  onCancel: () => void;
}

const MODES: { mode: QuotaMode; words: string }[] = [
  { mode: "default", words: "The platform default" },
  { mode: "unlimited", words: "Unlimited" },
  { mode: "limit", words: "A limit of" },
];

export function QuotaEditor({ userId, address, onSaved, onCancel }: QuotaEditorProps) {
  const [quota, setQuota] = useState<Quota | null>(null);
  const [form, setForm] = useState<QuotaForm | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    unwrap(api.GET("/api/v1/users/{user_id}/quota", { params: { path: { user_id: userId } } }))
      .then((found) => {
        setQuota(found);
        setForm(quotaForm(found.quota_bytes));
      })
      .catch((failure) => setError(describe(failure)));
  }, [userId]);

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!form) return;
    const wanted = quotaBytes(form);
    if ("problem" in wanted) {
      setError(wanted.problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSaved(
        await unwrap(
          api.PUT("/api/v1/users/{user_id}/quota", { params: { path: { user_id: userId } }, body: { quota_bytes: wanted.bytes } }),
        ),
      );
    } catch (failure) {
      setError(describe(failure));
      setBusy(false);
    }
  }

  const id = `quota-${userId}`;
  return (
    <form className="quota-editor" onSubmit={save} aria-label={`Quota of ${address}`}>
      {error && <p className="error" role="alert">{error}</p>}
      {!quota && !error && <p role="status">Loading…</p>}
      {quota && form && (
        <>
          <p>
            In force: <strong>{describeLimit(quota.limit_bytes)}</strong>; the mailbox takes {formatBytes(quota.used_bytes)}
            {quota.full ? " and is full: new mail is refused." : "."}
          </p>
          <fieldset className="choice">
            <legend>Quota of {address}</legend>
            {MODES.map(({ mode, words }) => (
              <label key={mode}>
                <input
                  type="radio"
                  name={`${id}-mode`}
                  value={mode}
                  checked={form.mode === mode}
                  onChange={() => setForm({ ...form, mode })}
                />
                {words}
              </label>
            ))}
            <span className="amount">
              <label htmlFor={`${id}-amount`} className="visually-hidden">
                Quota size
              </label>
              <input
                id={`${id}-amount`}
                type="number"
                min="0"
                step="any"
                inputMode="decimal"
                disabled={form.mode !== "limit"}
                value={form.amount}
                onChange={(e) => setForm({ ...form, amount: e.target.value })}
              />
              <label htmlFor={`${id}-unit`} className="visually-hidden">
                Unit
              </label>
              <select
                id={`${id}-unit`}
                disabled={form.mode !== "limit"}
                value={form.unit}
                onChange={(e) => setForm({ ...form, unit: e.target.value as QuotaUnit })}
              >
                <option value="MiB">MiB</option>
                <option value="GiB">GiB</option>
              </select>
            </span>
          </fieldset>
          <div className="actions">
            <button type="submit" className="button" disabled={busy}>
              {busy ? "Saving…" : "Save quota"}
            </button>
            <button type="button" className="button secondary" onClick={onCancel}>
              Cancel
            </button>
          </div>
        </>
      )}
    </form>
  );
}
