// The dashboard's series and bars from GET /api/v1/stats: which names, in what order,
// in which colour. Pure: the charts (src/charts/) draw what this returns.
import type { Schemas } from "../api/client";
import type { Bar } from "../charts/BarChart";
import type { Series } from "../charts/TimeChart";

export type Stats = Schemas["StatsOut"];

const GREY = "#4b5563";

// Reply classes keep their colour family (2xx green, 4xx amber, 5xx red), codes a shade.
const REPLY_FAMILIES: Record<string, string[]> = {
  "2": ["#047857", "#059669", "#10b981"],
  "3": ["#1d4ed8", "#3b82f6"],
  "4": ["#b45309", "#d97706", "#f59e0b"],
  "5": ["#b91c1c", "#dc2626", "#ef4444", "#f87171"],
};

export function replySeries(stats: Stats): Series[] {
  const codes = [...new Set(stats.minutes.flatMap((m) => Object.keys(m.replies)))].sort();
  const used: Record<string, number> = {};
  return codes.map((code) => {
    const family = REPLY_FAMILIES[code[0] ?? ""] ?? [GREY, "#6b7280"];
    const index = used[code[0] ?? ""] ?? 0;
    used[code[0] ?? ""] = index + 1;
    return {
      name: code,
      color: family[index % family.length] ?? GREY,
      values: stats.minutes.map((m) => m.replies[code] ?? 0),
    };
  });
}

const PLUGIN_COLORS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#b45309", "#0e7490"];

export function hookSeries(stats: Stats): Series[] {
  const plugins = [...new Set(stats.minutes.flatMap((m) => Object.keys(m.hook_latency)))].sort();
  return plugins.map((plugin, i) => ({
    name: plugin,
    color: PLUGIN_COLORS[i % PLUGIN_COLORS.length] ?? GREY,
    values: stats.minutes.map((m) => m.hook_latency[plugin]?.mean_ms ?? 0),
  }));
}

// A verdict keeps its colour family whatever the plugin (refusals red, holds purple...);
// each plugin takes the next shade of it.
const VERDICT_ORDER = ["continue", "accept", "quarantine", "discard", "tempfail", "reject"];
const VERDICT_FAMILIES: Record<string, string[]> = {
  continue: ["#1d4ed8", "#3b82f6", "#1e3a8a"],
  accept: ["#047857", "#10b981", "#065f46"],
  quarantine: ["#7c3aed", "#a78bfa", "#5b21b6"],
  discard: ["#4b5563", "#9ca3af", "#1f2937"],
  tempfail: ["#b45309", "#f59e0b", "#78350f"],
  reject: ["#b91c1c", "#f87171", "#7f1d1d"],
};

/** Calls per minute by plugin and verdict ("spam-filter: reject"), a plugin's together. */
export function verdictSeries(stats: Stats): Series[] {
  const pairs = new Map<string, Set<string>>();
  for (const minute of stats.minutes) {
    for (const [plugin, verdicts] of Object.entries(minute.hook_verdicts)) {
      const seen = pairs.get(plugin) ?? new Set<string>();
      Object.keys(verdicts).forEach((v) => seen.add(v));
      pairs.set(plugin, seen);
    }
  }
  const plugins = [...pairs.keys()].sort();
  return plugins.flatMap((plugin, p) =>
    [...(pairs.get(plugin) ?? [])].sort(byOrder(VERDICT_ORDER)).map((verdict) => {
      const family = VERDICT_FAMILIES[verdict] ?? [GREY];
      return {
        name: `${plugin}: ${verdict}`,
        color: family[p % family.length] ?? GREY,
        values: stats.minutes.map((m) => m.hook_verdicts[plugin]?.[verdict] ?? 0),
      };
    }),
  );
}

export const AUTH_METHODS = ["spf", "dkim", "dmarc"] as const;
const WORD_ORDER = ["pass", "none", "neutral", "policy", "softfail", "temperror", "permerror", "fail"];
const WORD_COLORS: Record<string, string> = {
  pass: "#047857",
  none: "#6b7280",
  neutral: "#0e7490",
  policy: "#7c3aed",
  softfail: "#d97706",
  temperror: "#f59e0b",
  permerror: "#7f1d1d",
  fail: "#b91c1c",
};

/** Messages checked per minute by one method's result word, passes first. */
export function authSeries(stats: Stats, method: string): Series[] {
  const words = [...new Set(stats.minutes.flatMap((m) => Object.keys(m.auth[method] ?? {})))];
  return words.sort(byOrder(WORD_ORDER)).map((word) => ({
    name: word,
    color: WORD_COLORS[word] ?? GREY,
    values: stats.minutes.map((m) => m.auth[method]?.[word] ?? 0),
  }));
}

const LOCAL_COLOR = "#0e7490";
const OUTBOUND_COLORS: Record<string, string> = {
  scheduled: "#1d4ed8",
  deferred: "#b45309",
  leased: "#047857",
  held: "#7c3aed",
};

/** What waits now, every state listed (a zero is news too): local first, then outbound. */
export function queueBars(stats: Stats): Bar[] {
  return [
    ...Object.entries(stats.local_queue_now).map(([state, value]) => ({
      name: `local ${state}`,
      value,
      color: LOCAL_COLOR,
    })),
    ...Object.entries(stats.outbound_queue_now).map(([state, value]) => ({
      name: `outbound ${state}`,
      value,
      color: OUTBOUND_COLORS[state] ?? GREY,
    })),
  ];
}

/** Deferred recipients by destination, as the API ranks them (the busiest first). */
export function destinationBars(stats: Stats): Bar[] {
  return Object.entries(stats.deferred_by_destination).map(([name, value]) => ({
    name,
    value,
    color: OUTBOUND_COLORS.deferred ?? GREY,
  }));
}

function byOrder(order: string[]): (a: string, b: string) => number {
  const rank = (word: string) => {
    const at = order.indexOf(word);
    return at < 0 ? order.length : at;
  };
  return (a, b) => rank(a) - rank(b) || a.localeCompare(b);
}
