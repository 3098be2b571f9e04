// Held mail (GET /api/v1/quarantine): what hooks quarantined, per mailbox for the admins
// (a user's token sees its own mailbox only), newest first with older pages; each can be
// opened, released to the folder it was meant for, or deleted, after a confirmation.
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, describe, unwrap, type Schemas } from "../api/client";
import type { Me } from "../auth/session";
import { ConfirmDialog } from "../ops/ConfirmDialog";
import { HELD_ACTIONS, heldConfirmText, heldEmptyText, heldResultText, type Held, type HeldAction } from "../ops/held";
import { PageTitle } from "../shell/PageTitle";
import { Link, navigate, useLocation } from "../shell/router";
import { formatBytes } from "../format/bytes";

type HeldMessage = Schemas["HeldMessage"];
const PAGE_SIZE = 25;

export function Quarantine({ me }: { me: Me }) {
  const { query } = useLocation();
  const mailbox = query.get("mailbox")?.trim() ?? "";
  const [items, setItems] = useState<HeldMessage[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [cursors, setCursors] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [pending, setPending] = useState<{ action: HeldAction; message: HeldMessage } | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => setCursors([]), [mailbox]);

  useEffect(() => {
    let current = true;
    setError(null);
    const wanted = { mailbox: mailbox || undefined, limit: PAGE_SIZE, before: cursor };
    unwrap(api.GET("/api/v1/quarantine", { params: { query: wanted } }))
      .then((page) => {
        if (!current) return;
        setItems(page.items);
        setNext(page.next ?? null);
      })
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [mailbox, cursor, round]);

  async function confirm() {
    if (!pending) return;
    const { action, message } = pending;
    setBusy(true);
    setActionError(null);
    try {
      setResult(await actOnHeld(action, message));
      setPending(null);
      setRound((n) => n + 1);
    } catch (failure) {
      setActionError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  function filter(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const chosen = String(new FormData(event.currentTarget).get("mailbox") ?? "").trim();
    navigate(chosen ? `/quarantine?mailbox=${encodeURIComponent(chosen)}` : "/quarantine");
  }

  return (
    <section>
      <PageTitle text="Quarantine" />
      {me.role === "user" ? (
        <p className="muted">Mail held away from your inbox. Release what you trust; delete the rest.</p>
      ) : (
        <form key={mailbox} className="filters" role="search" aria-label="Filter held mail" onSubmit={filter}>
          <div className="field">
            <label htmlFor="h-mailbox">Mailbox</label>
            <input id="h-mailbox" name="mailbox" type="email" defaultValue={mailbox} placeholder="every mailbox" />
          </div>
          <div className="actions">
            <button type="submit" className="button">
              Show
            </button>
            <button type="button" className="button secondary" onClick={() => navigate("/quarantine")}>
              Clear
            </button>
          </div>
        </form>
      )}
      {result && (
        <p className="notice" role="status">
          {result}
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      {items === null && !error && <p role="status">Loading…</p>}
      {items && items.length === 0 && <p role="status">{heldEmptyText(mailbox, cursors.length > 0)}</p>}
      {items && items.length > 0 && <HeldTable items={items} onAction={(action, message) => setPending({ action, message })} />}
      <nav className="pager" aria-label="Pages">
        <button type="button" className="button secondary" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <span className="muted">Page {cursors.length + 1}</span>
        <button type="button" className="button secondary" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Older
        </button>
      </nav>
      {pending && (
        <ConfirmDialog
          title={`${HELD_ACTIONS[pending.action].label} this message?`}
          confirmLabel={HELD_ACTIONS[pending.action].label}
          danger={HELD_ACTIONS[pending.action].danger}
          busy={busy}
          error={actionError}
          onConfirm={() => void confirm()}
          onCancel={() => {
            setPending(null);
            setActionError(null);
          }}
        >
          <p>{heldConfirmText(pending.action, pending.message)}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** Release or delete a held message; the result in words. */
export async function actOnHeld(action: HeldAction, message: Held & { id: string }): Promise<string> {
  const path = { params: { path: { entry_id: message.id } } };
  if (action === "release") {
    const released = await unwrap(api.POST("/api/v1/quarantine/{entry_id}/release", path));
    return heldResultText(action, message, released.folder);
  }
  const { response, error } = await api.DELETE("/api/v1/quarantine/{entry_id}", path);
  if (!response.ok) throw new ApiError(response.status, error);
  return heldResultText(action, message);
}

function HeldTable({ items, onAction }: { items: HeldMessage[]; onAction: (action: HeldAction, message: HeldMessage) => void }) {
  return (
    <table className="list">
      <caption className="visually-hidden">Held messages, newest first</caption>
      <thead>
        <tr>
          <th scope="col">From</th>
          <th scope="col">Subject</th>
          <th scope="col">Mailbox</th>
          <th scope="col">Received</th>
          <th scope="col">Size</th>
          <th scope="col">Release to</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {items.map((m) => (
          <tr key={m.id}>
            <td>{m.from}</td>
            <td>
              <Link to={`/quarantine/${encodeURIComponent(m.id)}`}>{m.subject || "(no subject)"}</Link>
              {m.tags.map((tag) => (
                <span key={tag} className="tag">
                  {tag}
                </span>
              ))}
            </td>
            <td>{m.mailbox}</td>
            <td>{new Date(m.received_at).toLocaleString()}</td>
            <td>{formatBytes(m.size)}</td>
            <td>{m.release_to}</td>
            <td>
              <div className="row-actions">
                {(["release", "delete"] as const).map((action) => (
                  <button
                    key={action}
                    type="button"
                    className={HELD_ACTIONS[action].danger ? "button secondary danger" : "button secondary"}
                    aria-label={`${HELD_ACTIONS[action].label}: ${m.subject || "(no subject)"}`}
                    onClick={() => onAction(action, m)}
                  >
                    {HELD_ACTIONS[action].label}
                  </button>
                ))}
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
