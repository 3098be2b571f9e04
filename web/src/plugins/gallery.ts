// The gallery's rows: installed plugins and the catalog's, one row per name (an installed
// plugin the catalog also offers is one row, saying whether a newer version waits), by
// name, and the filter a person types.

export interface InstalledLike {
  name: string;
  version: string;
  enabled: boolean;
  description: string;
  transport: string;
}

export interface OfferLike {
  name: string;
  version: string;
  description: string;
  transport: string;
  runs_here: boolean;
  upgradable: boolean;
}

export interface GalleryRow {
  name: string;
  version: string;
  state: "on" | "off" | "available" | "not for this MaiRust";
  /** The catalog's newer version, when there is one to upgrade to. */
  newer: string | null;
  transport: string;
  description: string;
  installed: boolean;
}

export const STATE_WORDS: Readonly<Record<GalleryRow["state"], string>> = {
  on: "On",
  off: "Off",
  available: "In the catalog",
  "not for this MaiRust": "Not for this MaiRust",
};

export function galleryRows(installed: readonly InstalledLike[], offers: readonly OfferLike[]): GalleryRow[] {
  const rows = new Map<string, GalleryRow>();
  for (const offer of offers) {
    rows.set(offer.name, {
      name: offer.name,
      version: offer.version,
      state: offer.runs_here ? "available" : "not for this MaiRust",
      newer: null,
      transport: offer.transport,
      description: offer.description,
      installed: false,
    });
  }
  for (const plugin of installed) {
    const offer = offers.find((o) => o.name === plugin.name);
    rows.set(plugin.name, {
      name: plugin.name,
      version: plugin.version,
      state: plugin.enabled ? "on" : "off",
      newer: offer?.upgradable ? offer.version : null,
      transport: plugin.transport,
      description: plugin.description,
      installed: true,
    });
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Rows whose name, description, transport or state holds every word of `text`. */
export function filterRows(rows: readonly GalleryRow[], text: string): GalleryRow[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rows];
  return rows.filter((row) => {
    const said = [row.name, row.description, row.transport, STATE_WORDS[row.state]].join(" ").toLowerCase();
    return words.every((word) => said.includes(word));
  });
}
