// One message: who, when, where it is filed; its body (HTML in a sandboxed frame that may
// run no script, load nothing remote and navigate nowhere; or the text); the
// authentication results and the Authentication-Results header; attachments; what
// plugins noted; every header.
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";
import { formatBytes } from "./Users";

type Detail = Schemas["MessageDetail"];

export function MessageView({ id }: { id: string }) {
  const [message, setMessage] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setMessage(null);
    setError(null);
    unwrap(api.GET("/api/v1/messages/{entry_id}", { params: { path: { entry_id: id } } }))
      .then(setMessage)
      .catch((failure) => setError(describe(failure)));
  }, [id]);

  if (error) {
    return (
      <section>
        <PageTitle text="Message" />
        <p className="error" role="alert">{error}</p>
        <Link to="/messages">Back to messages</Link>
      </section>
    );
  }
  if (!message) return <p role="status">Loading…</p>;
  const authHeaders = message.headers.filter((h) => h.name.toLowerCase() === "authentication-results");
  return (
    <article className="message">
      <p>
        <Link to="/messages">← Messages</Link>
      </p>
      <PageTitle text={message.subject || "(no subject)"} />
      <dl className="facts">
        <dt>From</dt>
        <dd>{message.from}</dd>
        <dt>To</dt>
        <dd>{message.to.join(", ")}</dd>
        <dt>Received</dt>
        <dd>{new Date(message.received_at).toLocaleString()}</dd>
        <dt>Mailbox</dt>
        <dd>
          {message.mailbox}, folder {message.folder}
        </dd>
        {message.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>{message.tags.join(", ")}</dd>
          </>
        )}
      </dl>
      <section aria-labelledby="body-heading">
        <h2 id="body-heading">Body</h2>
        {message.html ? (
          <iframe
            className="message-html"
            title="The message's HTML body"
            sandbox=""
            referrerPolicy="no-referrer"
            srcDoc={message.html}
          />
        ) : (
          <pre className="message-text" tabIndex={0}>{message.text ?? "(no text body)"}</pre>
        )}
      </section>
      <section aria-labelledby="auth-heading">
        <h2 id="auth-heading">Authentication</h2>
        <AuthSummary auth={message.auth ?? null} />
        {authHeaders.length === 0 ? (
          <p className="muted">No Authentication-Results header.</p>
        ) : (
          authHeaders.map((h, i) => (
            <pre key={i} className="header-value" tabIndex={0}>
              {h.value}
            </pre>
          ))
        )}
      </section>
      {message.attachments.length > 0 && (
        <section aria-labelledby="attachments-heading">
          <h2 id="attachments-heading">Attachments</h2>
          <ul>
            {message.attachments.map((a, i) => (
              <li key={i}>
                {a.filename} ({a.content_type}, {formatBytes(a.size)})
              </li>
            ))}
          </ul>
        </section>
      )}
      {Object.keys(message.notes ?? {}).length > 0 && (
        <section aria-labelledby="notes-heading">
          <h2 id="notes-heading">Plugin notes</h2>
          <dl className="facts">
            {Object.entries(message.notes ?? {}).map(([plugin, notes]) => (
              <div key={plugin}>
                <dt>{plugin}</dt>
                <dd>
                  {Object.entries(notes)
                    .map(([key, value]) => `${key}: ${value}`)
                    .join("; ")}
                </dd>
              </div>
            ))}
          </dl>
        </section>
      )}
      <details>
        <summary>All headers ({message.headers.length})</summary>
        <table className="list headers">
          <caption className="visually-hidden">Headers, in order</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {message.headers.map((h, i) => (
              <tr key={i}>
                <th scope="row">{h.name}</th>
                <td>{h.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </article>
  );
}

/** One word per method, from what the platform checked at acceptance. */
function AuthSummary({ auth }: { auth: Detail["auth"] | null }) {
  if (!auth) {
    return <p className="muted">Not checked (mail from a trusted network, or accepted before the checks).</p>;
  }
  const words = authWords(auth);
  return (
    <ul className="auth-words">
      {words.map(([method, word]) => (
        <li key={method} className={`auth-${word}`}>
          {method.toUpperCase()}: <strong>{word}</strong>
        </li>
      ))}
    </ul>
  );
}

export function authWords(auth: object): [string, string][] {
  const words: [string, string][] = [];
  for (const [method, value] of Object.entries(auth)) {
    if (Array.isArray(value)) {
      value.forEach((one, i) => words.push([value.length > 1 ? `${method} ${i + 1}` : method, resultOf(one)]));
    } else if (value) {
      words.push([method, resultOf(value)]);
    }
  }
  return words;
}

function resultOf(value: unknown): string {
  if (typeof value === "object" && value !== null && "result" in value) return String(value.result);
  return String(value);
}
