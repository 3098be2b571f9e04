// The message trace (GET /api/v1/events/trace): search by Message-ID, recipient or queue
// id (kept in the URL), and see each message's steps in order — received, checks, hooks,
// stored or relayed, delivery attempts with their replies, bounces — refusals included.
import { useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap } from "../api/client";
import { Timeline } from "../ops/Timeline";
import { groupTrace, TRACE_BY, traceQuery, type TraceBy, type TracedMessage } from "../ops/trace";
import { PageTitle } from "../shell/PageTitle";
import { navigate, useLocation } from "../shell/router";

export function Trace() {
  const { query } = useLocation();
  const asked = query.get("by") ?? "";
  const by: TraceBy = asked in TRACE_BY ? (asked as TraceBy) : "message_id";
  const value = query.get("q")?.trim() ?? "";
  return (
    <section>
      <PageTitle text="Message trace" />
      <TraceForm by={by} value={value} />
      {value ? (
        // Keyed by the search: a new one starts empty, never showing the last one's steps.
        <TraceResults key={`${by}|${value}`} by={by} value={value} />
      ) : (
        <p className="muted">Search for a message to see everything that happened to it, refusals included.</p>
      )}
    </section>
  );
}

function TraceResults({ by, value }: { by: TraceBy; value: string }) {
  const [messages, setMessages] = useState<TracedMessage[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    unwrap(api.GET("/api/v1/events/trace", { params: { query: traceQuery(by, value) } }))
      .then((trace) => current && setMessages(groupTrace(trace.items)))
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [by, value]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (messages === null) return <p role="status">Searching…</p>;
  if (messages.length === 0) {
    return (
      <p role="status">
        Nothing is recorded for the {TRACE_BY[by].label.toLowerCase()} {value}. Check it is written as the mail has it;
        a refusal is kept only when a recipient was one of your domains&apos; addresses.
      </p>
    );
  }
  return (
    <>
      <p role="status">{messages.length === 1 ? "1 message" : `${messages.length} messages`} found, oldest first.</p>
      {messages.map((message, i) => (
        <Timeline key={message.queueId ?? i} message={message} index={i} />
      ))}
    </>
  );
}

function TraceForm({ by, value }: { by: TraceBy; value: string }) {
  const [chosen, setChosen] = useState<TraceBy>(by);
  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const text = String(new FormData(event.currentTarget).get("q") ?? "").trim();
    if (!text) return;
    navigate(`/trace?${new URLSearchParams({ by: chosen, q: text }).toString()}`);
  }
  return (
    <form key={`${by}|${value}`} className="filters" role="search" aria-label="Trace a message" onSubmit={search}>
      <div className="field">
        <label htmlFor="t-by">Search by</label>
        <select id="t-by" value={chosen} onChange={(e) => setChosen(e.target.value as TraceBy)}>
          {(Object.keys(TRACE_BY) as TraceBy[]).map((key) => (
            <option key={key} value={key}>
              {TRACE_BY[key].label}
            </option>
          ))}
        </select>
      </div>
      <div className="field wide">
        <label htmlFor="t-q">{TRACE_BY[chosen].label}</label>
        <input id="t-q" name="q" defaultValue={value} placeholder={TRACE_BY[chosen].hint} required />
      </div>
      <div className="actions">
        <button type="submit" className="button">
          Trace
        </button>
      </div>
    </form>
  );
}
