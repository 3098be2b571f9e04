// A stored message to test with: the newest ones, or a search over the admin's messages
// (GET /api/v1/messages, GET /api/v1/search); picking one reads its raw source
// (GET /api/v1/messages/{id}/raw) and hands it over with the envelope it came with.
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, describe, unwrap, type Schemas } from "../api/client";

type Summary = Schemas["MessageSummary"];

export interface PickedMessage {
  summary: Summary;
  raw: string;
}

const SHOWN = 10;

export function MessagePicker({ onPicked }: { onPicked: (picked: PickedMessage) => void }) {
  const [query, setQuery] = useState("");
  const [asked, setAsked] = useState("");
  const [found, setFound] = useState<Summary[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    setFound(null);
    setError(null);
    // A search hit is a summary with a score and a snippet: either page gives summaries.
    const listed: Promise<{ items: Summary[] }> = asked
      ? unwrap(api.GET("/api/v1/search", { params: { query: { q: asked, limit: SHOWN } } }))
      : unwrap(api.GET("/api/v1/messages", { params: { query: { limit: SHOWN } } }));
    listed
      .then((page) => current && setFound(page.items))
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [asked]);

  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setAsked(query.trim());
  }

  async function pick(summary: Summary) {
    setError(null);
    try {
      const { data, error: problem, response } = await api.GET("/api/v1/messages/{entry_id}/raw", {
        params: { path: { entry_id: summary.id } },
        parseAs: "text",
      });
      if (!response.ok || data === undefined) throw new ApiError(response.status, problem);
      setChosen(summary.id);
      onPicked({ summary, raw: data });
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <div className="message-picker">
      <form role="search" aria-label="Find a stored message" className="toolbar" onSubmit={search}>
        <label htmlFor="pick-query">Search stored messages</label>
        <input id="pick-query" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="words, from:, subject:" />
        <button type="submit" className="button secondary">
          Search
        </button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {found === null && !error && <p role="status">Loading…</p>}
      {found && found.length === 0 && (
        <p role="status">{asked ? `No stored message matches “${asked}”.` : "No stored message yet: paste one below."}</p>
      )}
      {found && found.length > 0 && (
        <ul className="picked-list" aria-label={asked ? `Messages matching ${asked}` : "Newest messages"}>
          {found.map((m) => (
            <li key={m.id}>
              <button type="button" className="button secondary" aria-pressed={chosen === m.id} onClick={() => pick(m)}>
                Use “{m.subject || "(no subject)"}”
              </button>{" "}
              <span className="muted">
                from {m.from || "<>"} to {m.mailbox}, {new Date(m.received_at).toLocaleString()}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
