// A snapshot as horizontal bars, one per name with its value beside it (what waits now,
// not a history). Named by its caption; the SVG's label and the legend say the values in
// words.
import { formatNumber, niceCeiling } from "./scale";

export interface Bar {
  name: string;
  value: number;
  color: string;
}

interface BarChartProps {
  id: string;
  title: string;
  unit: string;
  bars: Bar[];
  /** Said instead of a chart when there is no bar. */
  empty: string;
}

const WIDTH = 640;
const ROW = 28;
const LEFT = 190;
const RIGHT = 60;

export function BarChart({ id, title, unit, bars, empty }: BarChartProps) {
  const top = niceCeiling(Math.max(0, ...bars.map((b) => b.value)));
  const height = bars.length * ROW + 4;
  const length = (value: number) => (value / top) * (WIDTH - LEFT - RIGHT);
  const words = bars.map((b) => `${b.name} ${formatNumber(b.value)}`);
  return (
    <figure className="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{title}</figcaption>
      {bars.length === 0 ? (
        <p className="chart-empty">{empty}</p>
      ) : (
        <>
          <svg className="bar-chart" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`${title}, ${unit}: ${words.join("; ")}.`}>
            {bars.map((b, i) => (
              <g key={b.name}>
                <text x={LEFT - 8} y={i * ROW + ROW / 2 + 6} textAnchor="end" className="axis">
                  {b.name}
                </text>
                <rect x={LEFT} y={i * ROW + 5} width={Math.max(b.value > 0 ? 2 : 0, length(b.value))} height={ROW - 10} fill={b.color} />
                <text x={LEFT + length(b.value) + 6} y={i * ROW + ROW / 2 + 6} className="axis">
                  {formatNumber(b.value)}
                </text>
              </g>
            ))}
          </svg>
          <ul className="legend">
            {bars.map((b) => (
              <li key={b.name}>
                {b.name}: <strong>{formatNumber(b.value)}</strong>
              </li>
            ))}
          </ul>
        </>
      )}
    </figure>
  );
}
