// A per-minute time series as SVG: lines (one per series) or stacked bars. The figure is
// named by its caption; the SVG's label says in words what the chart shows, and the
// legend gives each series' total (or latest value) as text.
import { formatNumber, minuteLabel, niceCeiling, ticks } from "./scale";

export interface Series {
  name: string;
  color: string;
  values: number[];
  dashed?: boolean;
}

interface TimeChartProps {
  id: string;
  title: string;
  unit: string;
  minutes: Date[];
  series: Series[];
  kind: "lines" | "stacked-bars";
  /** What the legend says of a series: its total over the window, or its latest value. */
  legend: "total" | "latest" | "mean";
  empty?: string;
}

const WIDTH = 640;
const HEIGHT = 200;
const LEFT = 48;
const RIGHT = 12;
const TOP = 10;
const BOTTOM = 24;

export function TimeChart(props: TimeChartProps) {
  const { id, title, unit, minutes, series, kind, legend, empty } = props;
  const slots = Math.max(minutes.length, 1);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const peak =
    kind === "stacked-bars"
      ? Math.max(0, ...minutes.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0)))
      : Math.max(0, ...series.flatMap((s) => s.values));
  const top = niceCeiling(peak);
  const y = (value: number) => TOP + plotHeight - (value / top) * plotHeight;
  const slot = plotWidth / slots;
  const x = (index: number) => LEFT + slot * index + slot / 2;
  const words = series.map((s) => `${s.name} ${describeSeries(s, legend)}`);
  const label = series.length
    ? `${title}, ${unit}, over the last ${minutes.length} minutes: ${words.join("; ")}.`
    : `${title}: ${empty ?? "no data"}.`;
  const labelEvery = Math.max(1, Math.ceil(minutes.length / 6));

  return (
    <figure className="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} preserveAspectRatio="none">
        {ticks(top).map((tick) => (
          <g key={tick}>
            <line x1={LEFT} x2={WIDTH - RIGHT} y1={y(tick)} y2={y(tick)} className="grid" />
            <text x={LEFT - 6} y={y(tick) + 4} textAnchor="end" className="axis">
              {formatNumber(tick)}
            </text>
          </g>
        ))}
        {minutes.map((start, i) =>
          i % labelEvery === 0 ? (
            <text key={start.getTime()} x={x(i)} y={HEIGHT - 6} textAnchor="middle" className="axis">
              {minuteLabel(start)}
            </text>
          ) : null,
        )}
        {kind === "lines" ? lines(series, x, y) : bars(series, minutes.length, slot, x, y)}
      </svg>
      {series.length === 0 ? (
        <p className="chart-empty">{empty ?? "No data in this window."}</p>
      ) : (
        <ul className="legend">
          {series.map((s) => (
            <li key={s.name}>
              <span className={s.dashed ? "swatch dashed" : "swatch"} style={{ borderColor: s.color, background: s.dashed ? "transparent" : s.color }} aria-hidden="true" />
              {s.name}: <strong>{describeSeries(s, legend)}</strong>
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}

function describeSeries(series: Series, legend: TimeChartProps["legend"]): string {
  const values = series.values;
  if (legend === "latest") return formatNumber(values[values.length - 1] ?? 0) + " now";
  const total = values.reduce((sum, v) => sum + v, 0);
  if (legend === "mean") {
    const seen = values.filter((v) => v > 0);
    const mean = seen.length ? seen.reduce((s, v) => s + v, 0) / seen.length : 0;
    return `${formatNumber(mean)} on average`;
  }
  return `${formatNumber(total)} in all`;
}

function lines(series: Series[], x: (i: number) => number, y: (v: number) => number) {
  return series.map((s) => (
    <polyline
      key={s.name}
      points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")}
      fill="none"
      stroke={s.color}
      strokeWidth={2.5}
      strokeDasharray={s.dashed ? "6 4" : undefined}
      vectorEffect="non-scaling-stroke"
    />
  ));
}

function bars(
  series: Series[],
  count: number,
  slot: number,
  x: (i: number) => number,
  y: (v: number) => number,
) {
  const width = Math.max(2, slot * 0.7);
  const rects = [];
  for (let i = 0; i < count; i++) {
    let base = 0;
    for (const s of series) {
      const value = s.values[i] ?? 0;
      if (value > 0) {
        rects.push(
          <rect
            key={`${s.name}-${i}`}
            x={x(i) - width / 2}
            y={y(base + value)}
            width={width}
            height={y(base) - y(base + value)}
            fill={s.color}
          />,
        );
      }
      base += value;
    }
  }
  return rects;
}
