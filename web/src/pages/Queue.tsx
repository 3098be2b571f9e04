// The mail queues: for the platform operator the inbound queue's and the outbound queue's
// counts by state at the top; the outbound recipients waiting (or any state, filtered by
// state and destination, kept in the URL), their attempts, and retry now, bounce, delete,
// each asked first and its result told.
import { useEffect, useState, type FormEvent } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import type { Me } from "../auth/session";
import { ConfirmDialog } from "../ops/ConfirmDialog";
import { OutboundTable } from "../ops/OutboundTable";
import {
  ACTIONS,
  confirmText,
  emptyText,
  QUEUE_STATE_LABELS,
  resultText,
  STATE_CHOICES,
  STATE_LABELS,
  statesFor,
  type OutboundRow,
  type RowAction,
} from "../ops/queue";
import { PageTitle } from "../shell/PageTitle";
import { navigate, useLocation } from "../shell/router";

const LIMIT = 200;

interface Pending {
  action: RowAction;
  row: OutboundRow;
}

export function Queue({ me }: { me: Me }) {
  const { query } = useLocation();
  const choice = query.get("state") ?? "waiting";
  const destination = query.get("destination")?.trim() ?? "";
  const [rows, setRows] = useState<OutboundRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let current = true;
    setError(null);
    const wanted = { state: statesFor(choice), destination: destination || undefined, limit: LIMIT };
    unwrap(api.GET("/api/v1/outbound", { params: { query: wanted } }))
      .then((list) => current && setRows(list.items))
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [choice, destination, round]);

  async function confirm() {
    if (!pending) return;
    setBusy(true);
    setActionError(null);
    try {
      const done = await unwrap(
        api.POST("/api/v1/outbound/{action}", {
          params: { path: { action: pending.action } },
          body: { ids: [pending.row.id] },
        }),
      );
      setResult(resultText(pending.action, done.changed));
      setPending(null);
      setRound((n) => n + 1);
    } catch (failure) {
      setActionError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <PageTitle text="Queue" />
      {me.role === "admin" ? <QueueCounts round={round} /> : null}
      <QueueFilters choice={choice} destination={destination} onRefresh={() => setRound((n) => n + 1)} />
      {result && (
        <p className="notice" role="status">
          {result}
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      {rows === null && !error && <p role="status">Loading…</p>}
      {rows && rows.length === 0 && <p role="status">{emptyText(choice, destination)}</p>}
      {rows && rows.length > 0 && <OutboundTable rows={rows} onAction={(action, row) => setPending({ action, row })} />}
      {rows && rows.length === LIMIT && <p className="muted">The newest {LIMIT} rows are shown: narrow the filter to see others.</p>}
      {pending && (
        <ConfirmDialog
          title={`${ACTIONS[pending.action].label}?`}
          confirmLabel={ACTIONS[pending.action].button}
          danger={ACTIONS[pending.action].danger}
          busy={busy}
          error={actionError}
          onConfirm={() => void confirm()}
          onCancel={() => {
            setPending(null);
            setActionError(null);
          }}
        >
          <p>{confirmText(pending.action, pending.row)}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function QueueFilters({ choice, destination, onRefresh }: { choice: string; destination: string; onRefresh: () => void }) {
  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const chosen = new URLSearchParams();
    const state = String(form.get("state") ?? "waiting");
    if (state !== "waiting") chosen.set("state", state);
    const where = String(form.get("destination") ?? "").trim();
    if (where) chosen.set("destination", where);
    const text = chosen.toString();
    navigate(text ? `/queue?${text}` : "/queue");
  }
  return (
    <form key={`${choice}|${destination}`} className="filters" onSubmit={apply} role="search" aria-label="Filter the outbound queue">
      <div className="field wide">
        <label htmlFor="q-state">State</label>
        <select id="q-state" name="state" defaultValue={choice}>
          {STATE_CHOICES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="q-destination">Destination</label>
        <input id="q-destination" name="destination" defaultValue={destination} placeholder="domain, or relay:host:port" />
      </div>
      <div className="actions">
        <button type="submit" className="button">
          Show
        </button>
        <button type="button" className="button secondary" onClick={onRefresh}>
          Refresh
        </button>
      </div>
    </form>
  );
}

/** The platform's figures (GET /api/v1/queue/stats and /api/v1/outbound/stats). */
function QueueCounts({ round }: { round: number }) {
  const [inbound, setInbound] = useState<Schemas["QueueStats"] | null>(null);
  const [outbound, setOutbound] = useState<Schemas["OutboundStats"] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    Promise.all([unwrap(api.GET("/api/v1/queue/stats")), unwrap(api.GET("/api/v1/outbound/stats"))])
      .then(([incoming, outgoing]) => {
        if (!current) return;
        setInbound(incoming);
        setOutbound(outgoing);
      })
      .catch((failure) => current && setError(describe(failure)));
    return () => {
      current = false;
    };
  }, [round]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!inbound || !outbound) return <p role="status">Loading the queue's counts…</p>;
  return (
    <div className="queue-counts">
      <section aria-labelledby="inbound-heading">
        <h2 id="inbound-heading">Inbound queue ({inbound.total} in all)</h2>
        <dl className="tiles">
          {Object.entries(QUEUE_STATE_LABELS).map(([state, label]) => (
            <div key={state}>
              <dt>{label}</dt>
              <dd>{inbound.counts[state as keyof typeof QUEUE_STATE_LABELS] ?? 0}</dd>
            </div>
          ))}
        </dl>
      </section>
      <section aria-labelledby="outbound-heading">
        <h2 id="outbound-heading">Outbound queue</h2>
        <dl className="tiles">
          {Object.entries(STATE_LABELS).map(([state, label]) => (
            <div key={state}>
              <dt>{label}</dt>
              <dd>{outbound.counts[state as keyof typeof STATE_LABELS] ?? 0}</dd>
            </div>
          ))}
        </dl>
      </section>
    </div>
  );
}
