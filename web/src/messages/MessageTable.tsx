// A page of message summaries as a table: who from, the subject (a link to the message)
// with its tags, where it is filed, when, how big; unread rows stand out. With `onFlag`,
// each row has a flag toggle.
import type { Schemas } from "../api/client";
import { Link } from "../shell/router";
import { formatBytes } from "../format/bytes";

export type Summary = Schemas["MessageSummary"];

interface MessageTableProps {
  items: Summary[];
  /** Flag or unflag a message (the toggle shows the state it has now). */
  onFlag?: (message: Summary, flagged: boolean) => void;
  /** Ids of messages whose change is on its way (their toggles wait). */
  pending?: ReadonlySet<string>;
}

export function MessageTable({ items, onFlag, pending }: MessageTableProps) {
  return (
    <table className="list">
      <caption className="visually-hidden">Messages, newest first</caption>
      <thead>
        <tr>
          {onFlag && <th scope="col">Flag</th>}
          <th scope="col">From</th>
          <th scope="col">Subject</th>
          <th scope="col">Mailbox</th>
          <th scope="col">Folder</th>
          <th scope="col">Received</th>
          <th scope="col">Size</th>
        </tr>
      </thead>
      <tbody>
        {items.map((m) => {
          const subject = m.subject || "(no subject)";
          return (
            <tr key={m.id} className={m.seen ? undefined : "unread"}>
              {onFlag && (
                <td>
                  <button
                    type="button"
                    className="flag-toggle"
                    aria-pressed={m.flagged}
                    aria-label={`Flagged: ${subject}`}
                    disabled={pending?.has(m.id)}
                    onClick={() => onFlag(m, !m.flagged)}
                  >
                    <span aria-hidden="true">{m.flagged ? "★" : "☆"}</span>
                  </button>
                </td>
              )}
              <td>{m.from}</td>
              <td>
                <Link to={`/messages/${encodeURIComponent(m.id)}`}>{subject}</Link>
                {!m.seen && <span className="visually-hidden"> (unread)</span>}
                {m.flagged && !onFlag && <span className="badge">flagged</span>}
                {m.tags.map((tag) => (
                  <span key={tag} className="tag">
                    {tag}
                  </span>
                ))}
              </td>
              <td>{m.mailbox}</td>
              <td>{m.folder}</td>
              <td>{new Date(m.received_at).toLocaleString()}</td>
              <td>{formatBytes(m.size)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
