// One held message, opened from the quarantine: who sent it, why it may have been held
// (tags, authentication results), its body as the reading view shows it (HTML in a frame
// that runs no script and loads nothing), its headers; release or delete it from here.
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { ConfirmDialog } from "../ops/ConfirmDialog";
import { HELD_ACTIONS, heldConfirmText, type HeldAction } from "../ops/held";
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";
import { authWords } from "../messages/AuthSummary";
import { HeaderTable, MessageBody } from "../messages/MessageBody";
import { actOnHeld } from "./Quarantine";

type Detail = Schemas["MessageDetail"];

export function HeldMessageView({ id }: { id: string }) {
  const [message, setMessage] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<HeldAction | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  useEffect(() => {
    setMessage(null);
    setError(null);
    unwrap(api.GET("/api/v1/messages/{entry_id}", { params: { path: { entry_id: id } } }))
      .then(setMessage)
      .catch((failure) => setError(describe(failure)));
  }, [id]);

  async function confirm() {
    if (!message || !pending) return;
    setBusy(true);
    setActionError(null);
    try {
      setDone(await actOnHeld(pending, message));
      setPending(null);
    } catch (failure) {
      setActionError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  const back = <Link to="/quarantine">← Quarantine</Link>;
  if (error) {
    return (
      <section>
        <PageTitle text="Held message" />
        <p className="error" role="alert">{error}</p>
        {back}
      </section>
    );
  }
  if (!message) return <p role="status">Loading…</p>;
  const held = message.folder === "Quarantine" && !done;
  return (
    <article className="message">
      <p>{back}</p>
      <PageTitle text={message.subject || "(no subject)"} />
      {done && (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      {!held && !done && <p className="notice">This message is no longer held: it is in the folder {message.folder}.</p>}
      {held && (
        <div className="toolbar">
          {(["release", "delete"] as const).map((action) => (
            <button
              key={action}
              type="button"
              className={HELD_ACTIONS[action].danger ? "button secondary danger" : "button"}
              onClick={() => setPending(action)}
            >
              {HELD_ACTIONS[action].label}
            </button>
          ))}
        </div>
      )}
      <dl className="facts">
        <dt>From</dt>
        <dd>{message.from}</dd>
        <dt>To</dt>
        <dd>{message.to.join(", ")}</dd>
        <dt>Received</dt>
        <dd>{new Date(message.received_at).toLocaleString()}</dd>
        <dt>Mailbox</dt>
        <dd>{message.mailbox}</dd>
        <dt>Tags</dt>
        <dd>{message.tags.length ? message.tags.join(", ") : "none"}</dd>
        <dt>Authentication</dt>
        <dd>
          {message.auth
            ? authWords(message.auth)
                .map(([method, word]) => `${method.toUpperCase()} ${word}`)
                .join(", ")
            : "not checked"}
        </dd>
      </dl>
      <MessageBody message={message} headingId="held-body-heading" />
      <HeaderTable headers={message.headers} />
      {pending && (
        <ConfirmDialog
          title={`${HELD_ACTIONS[pending].label} this message?`}
          confirmLabel={HELD_ACTIONS[pending].label}
          danger={HELD_ACTIONS[pending].danger}
          busy={busy}
          error={actionError}
          onConfirm={() => void confirm()}
          onCancel={() => {
            setPending(null);
            setActionError(null);
          }}
        >
          <p>{heldConfirmText(pending, message)}</p>
        </ConfirmDialog>
      )}
    </article>
  );
}
