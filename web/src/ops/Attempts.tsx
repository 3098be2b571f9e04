// One outbound message's delivery attempts (GET /api/v1/outbound/messages/{id}/attempts),
// oldest first: when, to which server, what it answered and what that made of the row.
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";

type Attempt = Schemas["AttemptRow"];

export function Attempts({ messageId, recipient }: { messageId: string; recipient: string }) {
  const [items, setItems] = useState<Attempt[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    unwrap(api.GET("/api/v1/outbound/messages/{message_id}/attempts", { params: { path: { message_id: messageId } } }))
      .then((found) => current && setItems(found.items.filter((a) => a.recipient === recipient)))
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [messageId, recipient]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (items === null) return <p role="status">Loading attempts…</p>;
  if (items.length === 0) return <p className="muted">No attempt yet: the first one is at its next attempt time.</p>;
  return (
    <table className="list attempts">
      <caption>
        Delivery attempts for {recipient} (message {messageId})
      </caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Result</th>
          <th scope="col">Server</th>
          <th scope="col">Reply</th>
        </tr>
      </thead>
      <tbody>
        {items.map((a, i) => (
          <tr key={i}>
            <td>{new Date(a.at).toLocaleString()}</td>
            <td>
              {a.result}
              {a.bounce_class && <span className="badge">{a.bounce_class}</span>}
            </td>
            <td>{[a.host, a.address].filter(Boolean).join(" ") || "—"}</td>
            <td className="reply">{a.reply || "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
