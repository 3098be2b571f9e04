// The platform's last minutes as live charts (GET /api/v1/stats, refreshed every few
// seconds): messages in and out, SMTP replies by code, the queue's depth and what waits
// now by state and destination, hook latency and verdicts, authentication results. The
// charts themselves are dashboard/Charts.tsx.
import { useCallback, useEffect, useState } from "react";
import { api, describe, unwrap } from "../api/client";
import { Charts } from "../dashboard/Charts";
import type { Stats } from "../dashboard/series";
import { PageTitle } from "../shell/PageTitle";

export const REFRESH_SECONDS = 5;
const WINDOWS = [15, 30, 60] as const;

export function Dashboard() {
  const [minutes, setMinutes] = useState<number>(15);
  const [stats, setStats] = useState<Stats | null>(null);
  const [updated, setUpdated] = useState<Date | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);

  const load = useCallback(async () => {
    try {
      const fresh = await unwrap(api.GET("/api/v1/stats", { params: { query: { minutes } } }));
      setStats(fresh);
      setUpdated(new Date());
      setError(null);
    } catch (failure) {
      setError(describe(failure));
    }
  }, [minutes]);

  useEffect(() => {
    void load();
    if (paused) return;
    const timer = window.setInterval(() => void load(), REFRESH_SECONDS * 1000);
    return () => window.clearInterval(timer);
  }, [load, paused]);

  return (
    <section>
      <PageTitle text="Dashboard" />
      <div className="toolbar">
        <label>
          Window{" "}
          <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            {WINDOWS.map((w) => (
              <option key={w} value={w}>
                last {w} minutes
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="button secondary" onClick={() => setPaused(!paused)}>
          {paused ? "Resume refreshing" : "Pause refreshing"}
        </button>
        <span className="muted" data-testid="updated">
          {updated
            ? `Updated ${updated.toLocaleTimeString()}${paused ? " (paused)" : `, every ${REFRESH_SECONDS} s`}`
            : "Loading…"}
        </span>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {stats && <Charts stats={stats} />}
    </section>
  );
}
