// A page of message summaries as a table: who from, the subject (a link to the message)
// with its tags, where it is filed, when, how big; unread rows stand out.
import type { Schemas } from "../api/client";
import { Link } from "../shell/router";
import { formatBytes } from "../pages/Users";

export type Summary = Schemas["MessageSummary"];

export function MessageTable({ items }: { items: Summary[] }) {
  return (
    <table className="list">
      <caption className="visually-hidden">Messages, newest first</caption>
      <thead>
        <tr>
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
              <td>{m.from}</td>
              <td>
                <Link to={`/messages/${encodeURIComponent(m.id)}`}>{subject}</Link>
                {!m.seen && <span className="visually-hidden"> (unread)</span>}
                {m.flagged && <span className="badge">flagged</span>}
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
