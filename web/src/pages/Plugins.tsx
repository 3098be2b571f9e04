// The plugin gallery (platform admin): the installed plugins and the configured catalog's,
// one row each, filtered by what is typed; a plugin's page installs, configures and
// removes it.
import { useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { filterRows, galleryRows, STATE_WORDS, type GalleryRow } from "../plugins/gallery";
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";

export function Plugins() {
  const [installed, setInstalled] = useState<Schemas["PluginOut"][] | null>(null);
  const [catalog, setCatalog] = useState<Schemas["CatalogOut"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [catalogError, setCatalogError] = useState<string | null>(null);
  const [text, setText] = useState("");

  useEffect(() => {
    unwrap(api.GET("/api/v1/admin/plugins"))
      .then((list) => setInstalled(list.items))
      .catch((failure) => setError(describe(failure)));
    // A catalog that cannot be read leaves the installed plugins to be seen.
    unwrap(api.GET("/api/v1/admin/plugin-catalog"))
      .then(setCatalog)
      .catch((failure) => setCatalogError(describe(failure)));
  }, []);

  const loading = installed === null || (catalog === null && catalogError === null);
  const rows = loading ? [] : galleryRows(installed, catalog?.items ?? []);
  const shown = filterRows(rows, text);
  return (
    <section>
      <PageTitle text="Plugins" />
      <p className="muted">
        {catalog?.location
          ? `Catalog: ${catalog.location} (this is MaiRust ${catalog.mairust_version}).`
          : catalog && "No catalog is configured: set [plugins] catalog to a directory or URL of signed packages to install from here."}
      </p>
      {catalogError && <p className="error" role="alert">The catalog: {catalogError}</p>}
      {error && <p className="error" role="alert">{error}</p>}
      <div className="toolbar">
        <div className="field">
          <label htmlFor="plugin-filter">Filter plugins</label>
          <input id="plugin-filter" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </div>
        {!loading && (
          <p className="muted" role="status">
            {shown.length} of {rows.length} plugins
          </p>
        )}
      </div>
      {loading && !error && <p role="status">Loading…</p>}
      {!loading && rows.length === 0 && (
        <p>No plugin is installed and the catalog offers none. Configure a catalog, or install a plugin's directory with <code>mairust plugin install</code>.</p>
      )}
      {rows.length > 0 && shown.length === 0 && <p>No plugin matches “{text}”. Clear the filter to see them all.</p>}
      {shown.length > 0 && <GalleryTable rows={shown} />}
    </section>
  );
}

function GalleryTable({ rows }: { rows: GalleryRow[] }) {
  return (
    <table className="list">
      <caption className="visually-hidden">Installed and catalog plugins</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Version</th>
          <th scope="col">State</th>
          <th scope="col">Transport</th>
          <th scope="col">Description</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.name}>
            <td>
              <Link to={`/plugins/${encodeURIComponent(row.name)}`}>{row.name}</Link>
            </td>
            <td>
              {row.version}
              {row.newer && <span className="badge">{row.newer} available</span>}
            </td>
            <td>
              <span className={`plugin-state plugin-state-${row.state.replace(/ /g, "-")}`}>{STATE_WORDS[row.state]}</span>
            </td>
            <td>{row.transport || "—"}</td>
            <td>{row.description}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
