// The platform's last minutes as live charts (GET /api/v1/stats, refreshed every few
// seconds): messages in and out, SMTP replies by code, the queue's depth, hook latency.
import { useCallback, useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { TimeChart, type Series } from "../charts/TimeChart";
import { formatNumber } from "../charts/scale";
import { PageTitle } from "../shell/PageTitle";

type Stats = Schemas["StatsOut"];

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

function Charts({ stats }: { stats: Stats }) {
  const starts = stats.minutes.map((m) => new Date(m.start));
  const totalIn = stats.minutes.reduce((sum, m) => sum + m.messages_in, 0);
  const totalOut = stats.minutes.reduce((sum, m) => sum + m.messages_out, 0);
  return (
    <>
      <dl className="tiles">
        <div>
          <dt>Messages in</dt>
          <dd>{formatNumber(totalIn)}</dd>
        </div>
        <div>
          <dt>Delivered</dt>
          <dd>{formatNumber(totalOut)}</dd>
        </div>
        <div>
          <dt>Queue now</dt>
          <dd>{formatNumber(stats.queue_depth_now)}</dd>
        </div>
        <div>
          <dt>Processes reporting</dt>
          <dd>{stats.processes.length}</dd>
        </div>
      </dl>
      <div className="charts">
        <TimeChart
          id="chart-messages"
          title="Messages per minute"
          unit="messages"
          minutes={starts}
          kind="lines"
          legend="total"
          series={[
            { name: "In", color: "#1d4ed8", values: stats.minutes.map((m) => m.messages_in) },
            { name: "Delivered", color: "#047857", values: stats.minutes.map((m) => m.messages_out), dashed: true },
          ]}
        />
        <TimeChart
          id="chart-replies"
          title="SMTP replies per minute"
          unit="replies, by code"
          minutes={starts}
          kind="stacked-bars"
          legend="total"
          series={replySeries(stats)}
          empty="No SMTP replies in this window."
        />
        <TimeChart
          id="chart-queue"
          title="Queue depth"
          unit="rows waiting at each minute's end"
          minutes={starts}
          kind="lines"
          legend="latest"
          series={[{ name: "Waiting", color: "#7c3aed", values: stats.minutes.map((m) => m.queue_depth) }]}
        />
        <TimeChart
          id="chart-hooks"
          title="Hook latency"
          unit="mean milliseconds per call, by plugin"
          minutes={starts}
          kind="lines"
          legend="mean"
          series={hookSeries(stats)}
          empty="No plugin was called in this window."
        />
      </div>
    </>
  );
}

// Reply classes keep their colour family (2xx green, 4xx amber, 5xx red), codes a shade.
const FAMILIES: Record<string, string[]> = {
  "2": ["#047857", "#059669", "#10b981"],
  "3": ["#1d4ed8", "#3b82f6"],
  "4": ["#b45309", "#d97706", "#f59e0b"],
  "5": ["#b91c1c", "#dc2626", "#ef4444", "#f87171"],
};

export function replySeries(stats: Stats): Series[] {
  const codes = [...new Set(stats.minutes.flatMap((m) => Object.keys(m.replies)))].sort();
  const used: Record<string, number> = {};
  return codes.map((code) => {
    const family = FAMILIES[code[0] ?? ""] ?? ["#4b5563", "#6b7280"];
    const index = used[code[0] ?? ""] ?? 0;
    used[code[0] ?? ""] = index + 1;
    return {
      name: code,
      color: family[index % family.length] ?? "#4b5563",
      values: stats.minutes.map((m) => m.replies[code] ?? 0),
    };
  });
}

const PLUGIN_COLORS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#b45309", "#0e7490"];

export function hookSeries(stats: Stats): Series[] {
  const plugins = [...new Set(stats.minutes.flatMap((m) => Object.keys(m.hook_latency)))].sort();
  return plugins.map((plugin, i) => ({
    name: plugin,
    color: PLUGIN_COLORS[i % PLUGIN_COLORS.length] ?? "#4b5563",
    values: stats.minutes.map((m) => m.hook_latency[plugin]?.mean_ms ?? 0),
  }));
}
