// What an installed plugin has been doing: its running totals per hook point and mode
// (GET .../figures, with the circuit breakers that shed its calls) and its most recent
// calls (GET .../calls).
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";

const RECENT = 20;

function counts(by: Record<string, number>): string {
  const said = Object.entries(by).filter(([, n]) => n > 0);
  return said.length ? said.map(([what, n]) => `${what} ${n}`).join(", ") : "—";
}

function ms(value: number | null | undefined, prefix = ""): string {
  return value === null || value === undefined ? "—" : `${prefix}${value.toFixed(1)} ms`;
}

export function PluginActivity({ name }: { name: string }) {
  const [figures, setFigures] = useState<Schemas["PluginFiguresOut"] | null>(null);
  const [calls, setCalls] = useState<Schemas["HookCallList"] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const path = { params: { path: { name } } };
    Promise.all([
      unwrap(api.GET("/api/v1/admin/plugins/{name}/figures", path)),
      unwrap(api.GET("/api/v1/admin/plugins/{name}/calls", { params: { path: { name }, query: { limit: RECENT } } })),
    ])
      .then(([f, c]) => {
        setFigures(f);
        setCalls(c);
      })
      .catch((failure) => setError(describe(failure)));
  }, [name]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!figures || !calls) return <p role="status">Loading…</p>;
  return (
    <>
      <h3>Totals since it was installed</h3>
      {figures.shed_by > 0 && (
        <p className="error">Its circuit is open in {figures.shed_by} process(es): its calls are shed after it kept failing.</p>
      )}
      {figures.points.length === 0 ? (
        <p>No calls yet. It is called when mail reaches the hook points it is bound at, while it is on.</p>
      ) : (
        <table className="list">
          <caption className="visually-hidden">Calls per hook point and mode</caption>
          <thead>
            <tr>
              <th scope="col">Point</th>
              <th scope="col">Mode</th>
              <th scope="col">Calls</th>
              <th scope="col">Ended</th>
              <th scope="col">Answered</th>
              <th scope="col">Latency (mean, median, 99th)</th>
            </tr>
          </thead>
          <tbody>
            {figures.points.map((p) => (
              <tr key={`${p.point}-${p.mode}`}>
                <td>{p.point}</td>
                <td>{p.mode}</td>
                <td>{p.calls}</td>
                <td>{counts(p.by_outcome)}</td>
                <td>{counts(p.by_verdict)}</td>
                <td>
                  {ms(p.latency_mean_ms)}, {ms(p.latency_p50_at_most_ms, "≤ ")}, {ms(p.latency_p99_at_most_ms, "≤ ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Recent calls</h3>
      {calls.items.length === 0 ? (
        <p>No call recorded yet (calls are recorded in batches: the last second may not be here).</p>
      ) : (
        <table className="list">
          <caption className="visually-hidden">The {RECENT} most recent calls, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Point</th>
              <th scope="col">Mode</th>
              <th scope="col">Outcome</th>
              <th scope="col">Verdict</th>
              <th scope="col">Latency</th>
              <th scope="col">Error or dropped</th>
            </tr>
          </thead>
          <tbody>
            {calls.items.map((call) => (
              <tr key={call.id}>
                <td>{new Date(call.at).toLocaleString()}</td>
                <td>{call.point}</td>
                <td>{call.mode}</td>
                <td>{call.outcome}</td>
                <td>{call.verdict}</td>
                <td>{ms(call.latency_ms)}</td>
                <td>{[call.error, ...call.dropped.map((d) => `dropped ${d}`)].filter(Boolean).join("; ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
