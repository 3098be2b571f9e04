// The reading view's action bar as markup: flag, read/unread, tags (add, remove), move to
// another of the mailbox's folders, delete (to Trash, or for good from Trash) after a
// confirmation. It only says what was asked; the page calls the API.
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Summary } from "./MessageTable";

export const TRASH = "Trash";
// Held mail leaves Quarantine by its own page (release or delete), and is not moved in.
const NOT_A_DESTINATION = new Set(["Quarantine"]);

interface MessageActionsProps {
  message: Pick<Summary, "subject" | "folder" | "tags" | "seen" | "flagged">;
  /** The mailbox's folder names; null while they load (or when they could not be). */
  folders: string[] | null;
  /** A change is on its way: every control waits. */
  busy: boolean;
  onFlags: (flags: { seen?: boolean; flagged?: boolean }) => void;
  onTags: (change: { add: string[]; remove: string[] }) => void;
  onMove: (folder: string) => void;
  /** Confirmed: to Trash, or (`purge`, for a message already there) for good. */
  onDelete: (purge: boolean) => void;
}

export function MessageActions(props: MessageActionsProps) {
  const { message, folders, busy, onFlags, onTags, onMove, onDelete } = props;
  const [tag, setTag] = useState("");
  const [confirming, setConfirming] = useState(false);
  const inTrash = message.folder === TRASH;
  const destinations = (folders ?? []).filter((f) => f !== message.folder && !NOT_A_DESTINATION.has(f));
  const [destination, setDestination] = useState("");
  const chosen = destinations.includes(destination) ? destination : (destinations[0] ?? "");

  function addTag(event: FormEvent) {
    event.preventDefault();
    const words = tag.trim();
    if (!words || message.tags.includes(words)) return;
    onTags({ add: [words], remove: [] });
    setTag("");
  }

  function move(event: FormEvent) {
    event.preventDefault();
    if (chosen) onMove(chosen);
  }

  function confirmDelete() {
    setConfirming(false);
    onDelete(inTrash);
  }

  return (
    <section className="message-actions" aria-labelledby="actions-heading">
      <h2 id="actions-heading" className="visually-hidden">
        Actions
      </h2>
      <div className="action-row">
        <button type="button" className="button secondary" disabled={busy} onClick={() => onFlags({ flagged: !message.flagged })}>
          {message.flagged ? "Unflag" : "Flag"}
        </button>
        <button type="button" className="button secondary" disabled={busy} onClick={() => onFlags({ seen: !message.seen })}>
          {message.seen ? "Mark as unread" : "Mark as read"}
        </button>
        <form className="inline-form" onSubmit={move}>
          <label htmlFor="move-to">Move to folder</label>
          <select id="move-to" value={chosen} disabled={busy || destinations.length === 0} onChange={(e) => setDestination(e.target.value)}>
            {folders === null && <option value="">Loading folders…</option>}
            {folders !== null && destinations.length === 0 && <option value="">No other folder</option>}
            {destinations.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
          <button type="submit" className="button secondary" disabled={busy || !chosen}>
            Move
          </button>
        </form>
        <button type="button" className="button danger" disabled={busy || confirming} onClick={() => setConfirming(true)}>
          {inTrash ? "Delete for good" : "Delete"}
        </button>
      </div>
      {confirming && (
        <Confirmation
          question={
            inTrash
              ? `Delete “${message.subject || "(no subject)"}” for good? It cannot be brought back.`
              : `Move “${message.subject || "(no subject)"}” to Trash?`
          }
          yes={inTrash ? "Yes, delete for good" : "Yes, move to Trash"}
          onYes={confirmDelete}
          onNo={() => setConfirming(false)}
        />
      )}
      <div className="tag-editor">
        <span id="tags-label">Tags</span>
        {message.tags.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          <ul aria-labelledby="tags-label">
            {message.tags.map((t) => (
              <li key={t} className="tag">
                {t}
                <button type="button" className="tag-remove" aria-label={`Remove tag ${t}`} disabled={busy} onClick={() => onTags({ add: [], remove: [t] })}>
                  <span aria-hidden="true">×</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <form className="inline-form" onSubmit={addTag}>
          <label htmlFor="new-tag">New tag</label>
          <input id="new-tag" value={tag} maxLength={64} onChange={(e) => setTag(e.target.value)} />
          <button type="submit" className="button secondary" disabled={busy || !tag.trim()}>
            Add tag
          </button>
        </form>
      </div>
    </section>
  );
}

interface ConfirmationProps {
  question: string;
  yes: string;
  onYes: () => void;
  onNo: () => void;
}

/** A question in the page (not a browser dialog), the safe answer reachable by Escape. */
function Confirmation({ question, yes, onYes, onNo }: ConfirmationProps) {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => first.current?.focus(), []);
  return (
    <div
      className="confirm"
      role="group"
      aria-labelledby="confirm-question"
      onKeyDown={(e) => {
        if (e.key === "Escape") onNo();
      }}
    >
      <p id="confirm-question">{question}</p>
      <button ref={first} type="button" className="button danger" onClick={onYes}>
        {yes}
      </button>
      <button type="button" className="button secondary" onClick={onNo}>
        Cancel
      </button>
    </div>
  );
}
