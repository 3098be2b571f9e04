// One message: who, when, where it is filed; what can be done with it (flag, read or
// unread, tags, move, delete: messages/MessageActions.tsx); its body (HTML in a sandboxed
// frame that may run no script, load nothing remote and navigate nowhere; or the text);
// the authentication results and the Authentication-Results header; attachments (fetched
// with the token, handed over as a download); what plugins noted; every header.
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { Attachments } from "../messages/Attachments";
import { AuthSummary } from "../messages/AuthSummary";
import { MessageActions } from "../messages/MessageActions";
import { HeaderTable, MessageBody } from "../messages/MessageBody";
import { saveAs } from "../messages/download";
import { PageTitle } from "../shell/PageTitle";
import { Link, navigate } from "../shell/router";

type Detail = Schemas["MessageDetail"];
type Summary = Schemas["MessageSummary"];

export function MessageView({ id }: { id: string }) {
  const [message, setMessage] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [folders, setFolders] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState("");
  const [failed, setFailed] = useState<string | null>(null);
  const [downloading, setDownloading] = useState<number | null>(null);
  const mailbox = message?.mailbox;

  useEffect(() => {
    setMessage(null);
    setError(null);
    setDone("");
    setFailed(null);
    unwrap(api.GET("/api/v1/messages/{entry_id}", { params: { path: { entry_id: id } } }))
      .then(setMessage)
      .catch((failure) => setError(describe(failure)));
  }, [id]);

  useEffect(() => {
    if (!mailbox) return;
    let current = true;
    unwrap(api.GET("/api/v1/mailboxes/{mailbox}/folders", { params: { path: { mailbox } } }))
      .then((list) => current && setFolders(list.items.map((f) => f.name)))
      .catch((failure) => current && setFailed(describe(failure)));
    return () => {
      current = false;
    };
  }, [mailbox]);

  /** One change through the API: its answer (the message's new summary) shown at once. */
  async function change(call: () => Promise<Summary | null>, said: string) {
    setBusy(true);
    setFailed(null);
    setDone("");
    try {
      const summary = await call();
      if (summary) setMessage((m) => m && { ...m, ...summary });
      setDone(said);
    } catch (failure) {
      setFailed(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  const path = { entry_id: id };
  const onFlags = (flags: { seen?: boolean; flagged?: boolean }) =>
    void change(
      () => unwrap(api.POST("/api/v1/messages/{entry_id}/flags", { params: { path }, body: flags })),
      flags.flagged !== undefined
        ? flags.flagged ? "Flagged." : "Unflagged."
        : flags.seen ? "Marked as read." : "Marked as unread.",
    );
  const onTags = (body: { add: string[]; remove: string[] }) =>
    void change(
      () => unwrap(api.POST("/api/v1/messages/{entry_id}/tags", { params: { path }, body })),
      body.add.length ? `Tagged “${body.add.join(", ")}”.` : `Tag “${body.remove.join(", ")}” removed.`,
    );
  const onMove = (folder: string) =>
    void change(
      () => unwrap(api.POST("/api/v1/messages/{entry_id}/move", { params: { path }, body: { folder } })),
      `Moved to ${folder}.`,
    );
  const onDelete = (purge: boolean) =>
    void change(async () => {
      const { data, error: problem, response } = await api.DELETE("/api/v1/messages/{entry_id}", {
        params: { path, query: { purge } },
      });
      if (purge && response.status === 204) {
        navigate("/messages");
        return null;
      }
      return unwrap(Promise.resolve({ data, error: problem, response }));
    }, purge ? "Deleted for good." : "Moved to Trash.");

  async function download(index: number) {
    const attachment = message?.attachments[index];
    if (!attachment) return;
    setDownloading(index);
    setFailed(null);
    try {
      const content = await unwrap(
        api.GET("/api/v1/messages/{entry_id}/attachments/{index}", {
          params: { path: { entry_id: id, index } },
          parseAs: "blob",
        }),
      );
      saveAs(content, attachment.filename);
    } catch (failure) {
      setFailed(describe(failure));
    } finally {
      setDownloading(null);
    }
  }

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
      </dl>
      <MessageActions
        message={message}
        folders={folders}
        busy={busy}
        onFlags={onFlags}
        onTags={onTags}
        onMove={onMove}
        onDelete={onDelete}
      />
      <p className="action-status" role="status">
        {done}
      </p>
      {failed && (
        <p className="error" role="alert">
          {failed}
        </p>
      )}
      <MessageBody message={message} headingId="body-heading" />
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
          <Attachments attachments={message.attachments} downloading={downloading} onDownload={(i) => void download(i)} />
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
      <HeaderTable headers={message.headers} />
    </article>
  );
}
