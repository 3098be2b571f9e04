// Pure arithmetic of the charts: a "nice" axis top and the ticks under it.

/** The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1). */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** Ticks from 0 to ``top``: 0, half and the top (whole numbers when the top allows). */
export function ticks(top: number): number[] {
  const half = top / 2;
  return Number.isInteger(half) || top < 2 ? [0, half, top] : [0, top];
}

/** "14:05" for a minute's start, in the viewer's zone. */
export function minuteLabel(start: Date): string {
  return start.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString() : value.toFixed(1);
}
