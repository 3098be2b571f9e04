// Messages in the token's scope: filters (kept in the URL, so a search can be shared or
// reloaded), a page of summaries newest first (messages/MessageTable.tsx) with a flag
// toggle on each, older and newer pages by cursor.
import { useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap } from "../api/client";
import type { paths } from "../api/schema";
import { PageTitle } from "../shell/PageTitle";
import { navigate, useLocation } from "../shell/router";
import { MessageTable, type Summary } from "../messages/MessageTable";
type ListQuery = NonNullable<paths["/api/v1/messages"]["get"]["parameters"]["query"]>;

export const PAGE_SIZE = 25;
const AUTH_WORDS = ["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"];
// The URL's filter names (the API's own, but for the dates: a day, not an instant).
const TEXT_FILTERS = ["mailbox", "folder", "tag", "from"] as const;

export function Messages() {
  const { query } = useLocation();
  const [items, setItems] = useState<Summary[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  // The cursors of the pages before this one (empty: the newest page).
  const [cursors, setCursors] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<ReadonlySet<string>>(new Set());
  const search = query.toString();
  const cursor = cursors[cursors.length - 1];

  useEffect(() => setCursors([]), [search]);

  useEffect(() => {
    let current = true;
    setError(null);
    unwrap(api.GET("/api/v1/messages", { params: { query: { ...apiQuery(new URLSearchParams(search)), limit: PAGE_SIZE, before: cursor } } }))
      .then((page) => {
        if (!current) return;
        setItems(page.items);
        setNext(page.next ?? null);
      })
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [search, cursor]);

  async function flag(message: Summary, flagged: boolean) {
    setPending((ids) => new Set(ids).add(message.id));
    setError(null);
    try {
      const changed = await unwrap(
        api.POST("/api/v1/messages/{entry_id}/flags", { params: { path: { entry_id: message.id } }, body: { flagged } }),
      );
      setItems((list) => list && list.map((m) => (m.id === changed.id ? changed : m)));
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setPending((ids) => {
        const left = new Set(ids);
        left.delete(message.id);
        return left;
      });
    }
  }

  return (
    <section>
      <PageTitle text="Messages" />
      <Filters query={query} />
      {error && <p className="error" role="alert">{error}</p>}
      {items === null && !error && <p role="status">Loading…</p>}
      {items && items.length === 0 && (
        <p role="status">No messages match. Clear the filters, or send mail to one of the mailboxes.</p>
      )}
      {items && items.length > 0 && <MessageTable items={items} pending={pending} onFlag={(m, f) => void flag(m, f)} />}
      <nav className="pager" aria-label="Pages">
        <button type="button" className="button secondary" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <span className="muted">Page {cursors.length + 1}</span>
        <button type="button" className="button secondary" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Older
        </button>
      </nav>
    </section>
  );
}

/** The API's query for the URL's filters (a day's start in the viewer's zone for dates). */
export function apiQuery(filters: URLSearchParams): ListQuery {
  const query: Record<string, string | boolean> = {};
  for (const name of TEXT_FILTERS) {
    const value = filters.get(name)?.trim();
    if (value) query[name] = value;
  }
  const after = filters.get("after");
  if (after) query.received_after = new Date(`${after}T00:00:00`).toISOString();
  const before = filters.get("before");
  if (before) {
    // "Received on or before the day": before the next day's start.
    const end = new Date(`${before}T00:00:00`);
    end.setDate(end.getDate() + 1);
    query.received_before = end.toISOString();
  }
  for (const flag of ["unread", "flagged"]) {
    const value = filters.get(flag);
    if (value === "true" || value === "false") query[flag] = value === "true";
  }
  for (const method of ["spf", "dkim", "dmarc"]) {
    const word = filters.get(method);
    if (word && AUTH_WORDS.includes(word)) query[method] = word;
  }
  return query as ListQuery;
}

function Filters({ query }: { query: URLSearchParams }) {
  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const chosen = new URLSearchParams();
    for (const [name, value] of form.entries()) {
      if (typeof value === "string" && value.trim()) chosen.set(name, value.trim());
    }
    const text = chosen.toString();
    navigate(text ? `/messages?${text}` : "/messages");
  }
  const field = (name: string) => query.get(name) ?? "";
  return (
    // Keyed by the URL: a new search shows its own values.
    <form key={query.toString()} className="filters" onSubmit={apply} role="search" aria-label="Filter messages">
      <div className="field">
        <label htmlFor="f-mailbox">Mailbox</label>
        <input id="f-mailbox" name="mailbox" type="email" defaultValue={field("mailbox")} placeholder="any" />
      </div>
      <div className="field">
        <label htmlFor="f-folder">Folder</label>
        <input id="f-folder" name="folder" defaultValue={field("folder")} placeholder="any" />
      </div>
      <div className="field">
        <label htmlFor="f-tag">Tag</label>
        <input id="f-tag" name="tag" defaultValue={field("tag")} />
      </div>
      <div className="field">
        <label htmlFor="f-from">From</label>
        <input id="f-from" name="from" defaultValue={field("from")} placeholder="address or @domain" />
      </div>
      <div className="field">
        <label htmlFor="f-after">Received from</label>
        <input id="f-after" name="after" type="date" defaultValue={field("after")} />
      </div>
      <div className="field">
        <label htmlFor="f-before">Received until</label>
        <input id="f-before" name="before" type="date" defaultValue={field("before")} />
      </div>
      <div className="field">
        <label htmlFor="f-unread">Read</label>
        <select id="f-unread" name="unread" defaultValue={field("unread")}>
          <option value="">either</option>
          <option value="true">unread</option>
          <option value="false">read</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-flagged">Flagged</label>
        <select id="f-flagged" name="flagged" defaultValue={field("flagged")}>
          <option value="">either</option>
          <option value="true">flagged</option>
          <option value="false">not flagged</option>
        </select>
      </div>
      {(["spf", "dkim", "dmarc"] as const).map((method) => (
        <div className="field" key={method}>
          <label htmlFor={`f-${method}`}>{method.toUpperCase()}</label>
          <select id={`f-${method}`} name={method} defaultValue={field(method)}>
            <option value="">any</option>
            {AUTH_WORDS.map((word) => (
              <option key={word} value={word}>
                {word}
              </option>
            ))}
          </select>
        </div>
      ))}
      <div className="actions">
        <button type="submit" className="button">
          Search
        </button>
        <button type="button" className="button secondary" onClick={() => navigate("/messages")}>
          Clear
        </button>
      </div>
    </form>
  );
}
