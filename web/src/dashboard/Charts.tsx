// The dashboard's charts for one answer of GET /api/v1/stats: totals, then the per-minute
// series (mail in and out, replies, queue depth, hook latency and verdicts, authentication
// results) and the queues now (by state, deferred by destination).
import { BarChart } from "../charts/BarChart";
import { TimeChart } from "../charts/TimeChart";
import { formatNumber } from "../charts/scale";
import {
  AUTH_METHODS,
  authSeries,
  destinationBars,
  hookSeries,
  queueBars,
  replySeries,
  verdictSeries,
  type Stats,
} from "./series";

export function Charts({ stats }: { stats: Stats }) {
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
        <BarChart
          id="chart-queue-states"
          title="Queue by state"
          unit="local rows and outbound recipients waiting now"
          bars={queueBars(stats)}
          empty="No queue answered."
        />
        <BarChart
          id="chart-deferred"
          title="Deferred by destination"
          unit="outbound recipients deferred now, the busiest destinations"
          bars={destinationBars(stats)}
          empty="Nothing is deferred: every remote destination took its mail."
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
        <TimeChart
          id="chart-verdicts"
          title="Hook verdicts"
          unit="calls per minute, by plugin and verdict"
          minutes={starts}
          kind="stacked-bars"
          legend="total"
          series={verdictSeries(stats)}
          empty="No plugin was called in this window."
        />
        {AUTH_METHODS.map((method) => (
          <TimeChart
            key={method}
            id={`chart-auth-${method}`}
            title={`${method.toUpperCase()} results`}
            unit="messages checked per minute, by result"
            minutes={starts}
            kind="stacked-bars"
            legend="total"
            series={authSeries(stats, method)}
            empty="No message was checked in this window (mail from trusted networks is not)."
          />
        ))}
      </div>
    </>
  );
}
