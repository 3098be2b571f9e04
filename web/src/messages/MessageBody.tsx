// A message's body as the UI shows it anywhere: the HTML in a frame that runs no script,
// loads nothing and cannot navigate (sandbox="" with no allowance, no referrer; the page's
// Content-Security-Policy applies to its srcdoc too), else the text. One place, so every
// view of a message keeps the same guard.
import type { Schemas } from "../api/client";

type Detail = Schemas["MessageDetail"];

export function MessageBody({ message, headingId }: { message: Detail; headingId: string }) {
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Body</h2>
      {message.html ? (
        <iframe
          className="message-html"
          title="The message's HTML body"
          sandbox=""
          referrerPolicy="no-referrer"
          srcDoc={message.html}
        />
      ) : (
        <pre className="message-text" tabIndex={0}>
          {message.text ?? "(no text body)"}
        </pre>
      )}
    </section>
  );
}

/** Every header, in order, folded away until asked for. */
export function HeaderTable({ headers }: { headers: Detail["headers"] }) {
  return (
    <details>
      <summary>All headers ({headers.length})</summary>
      <table className="list headers">
        <caption className="visually-hidden">Headers, in order</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {headers.map((h, i) => (
            <tr key={i}>
              <th scope="row">{h.name}</th>
              <td>{h.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
