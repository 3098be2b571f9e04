// One plugin (platform admin): what it is, what it is given and may do in plain words,
// its changelog; installed: its secrets, a configuration form generated from its schema,
// its recent calls and totals, and switching it on or off, upgrading and uninstalling;
// in the catalog only: installing it.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, describe, unwrap, type Schemas } from "../api/client";
import { ConfigForm } from "../plugins/ConfigForm";
import { ConfirmButton } from "../plugins/ConfirmButton";
import { changelogOf, secretsOf } from "../plugins/manifest";
import { PluginActivity } from "../plugins/PluginActivity";
import { PluginSecrets } from "../plugins/PluginSecrets";
import { permissionSentences, pointWords, scopeSentences, transportWords } from "../plugins/words";
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";

type Installed = Schemas["PluginOut"];
type Offer = Schemas["CatalogPluginOut"];

export function Plugin({ name }: { name: string }) {
  // undefined: loading; null: not installed (not in the catalog).
  const [plugin, setPlugin] = useState<Installed | null | undefined>(undefined);
  const [offer, setOffer] = useState<Offer | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadOffer = useCallback(() => {
    unwrap(api.GET("/api/v1/admin/plugin-catalog", { params: { query: { q: name } } }))
      .then((catalog) => setOffer(catalog.items.find((item) => item.name === name) ?? null))
      .catch(() => setOffer(null)); // the gallery says why a catalog cannot be read
  }, [name]);

  useEffect(() => {
    setPlugin(undefined);
    unwrap(api.GET("/api/v1/admin/plugins/{name}", { params: { path: { name } } }))
      .then(setPlugin)
      .catch((failure) => (failure instanceof ApiError && failure.status === 404 ? setPlugin(null) : setError(describe(failure))));
    loadOffer();
  }, [name, loadOffer]);

  async function act(work: () => Promise<string>) {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      setNotice(await work());
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }
  const path = { params: { path: { name } } };
  const install = () =>
    act(async () => {
      const made = await unwrap(api.POST("/api/v1/admin/plugin-catalog/{name}/install", path));
      setPlugin(made);
      loadOffer();
      return `Installed ${made.name} ${made.version}: ${made.enabled ? "on" : "off until it is configured and given its secrets"}.`;
    });
  const upgrade = () =>
    act(async () => {
      const done = await unwrap(api.POST("/api/v1/admin/plugin-catalog/{name}/upgrade", path));
      setPlugin(done.plugin);
      loadOffer();
      return done.upgraded ? `Upgraded to ${done.plugin.version}.` : `${done.plugin.version} is the newest it runs: nothing to upgrade.`;
    });
  const switchTo = (enabled: boolean) =>
    act(async () => {
      const changed = await unwrap(api.PATCH("/api/v1/admin/plugins/{name}", { ...path, body: { enabled } }));
      setPlugin(changed);
      return changed.enabled ? `${name} is on.` : `${name} is off.`;
    });
  const uninstall = () =>
    act(async () => {
      const { response, error: problem } = await api.DELETE("/api/v1/admin/plugins/{name}", path);
      if (!response.ok) throw new ApiError(response.status, problem);
      setPlugin(null);
      loadOffer();
      return `Uninstalled ${name}.`;
    });

  if (plugin === undefined && !error) return <p role="status">Loading…</p>;
  const about = plugin ?? offer;
  return (
    <article className="plugin">
      <p>
        <Link to="/plugins">← Plugins</Link>
      </p>
      <PageTitle text={name} />
      {notice && <p className="notice" role="status">{notice}</p>}
      {error && <p className="error" role="alert">{error}</p>}
      {!about && offer !== undefined && <p>{name} is not installed, and the catalog does not offer it.</p>}
      {about && (
        <>
          <p className="lede">{about.description}</p>
          <dl className="facts">
            <dt>Installed</dt>
            <dd>{plugin ? `${plugin.version}, ${plugin.enabled ? "on: it is called at its hook points" : "off: it is not called"}` : "no"}</dd>
            {offer && (
              <>
                <dt>In the catalog</dt>
                <dd>
                  {offer.version}, signed by {offer.signed_by}
                  {offer.runs_here ? "" : `; needs MaiRust ${offer.requires_mairust}, not this one`}
                </dd>
              </>
            )}
            <dt>Transport</dt>
            <dd>{transportWords(about.transport)}</dd>
            <dt>Runs</dt>
            <dd>{pointWords(about.hooks) || "—"}</dd>
          </dl>
          <div className="toolbar plugin-actions">
            {!plugin && offer?.runs_here && (
              <button type="button" className="button" disabled={busy} onClick={install}>
                Install {name} {offer.version}
              </button>
            )}
            {plugin && offer?.upgradable && (
              <button type="button" className="button" disabled={busy} onClick={upgrade}>
                Upgrade to {offer.version}
              </button>
            )}
            {plugin && (
              <button type="button" className="button secondary" disabled={busy} onClick={() => switchTo(!plugin.enabled)}>
                {plugin.enabled ? "Disable" : "Enable"}
              </button>
            )}
            {plugin && (
              <ConfirmButton
                label="Uninstall…"
                question={`Uninstall ${name}? It is no longer called, and its bindings and configuration are gone.`}
                confirmLabel={`Uninstall ${name}`}
                disabled={busy}
                onConfirm={uninstall}
              />
            )}
          </div>
          <Rights scopes={about.scopes} permissions={about.permissions} />
          <section aria-labelledby="changelog-heading">
            <h2 id="changelog-heading">Changelog</h2>
            <pre className="changelog">{(plugin ? changelogOf(plugin.manifest) : offer?.changelog) || "No changelog given."}</pre>
          </section>
        </>
      )}
      {plugin && <InstalledParts key={plugin.version} plugin={plugin} onChanged={setPlugin} />}
    </article>
  );
}

function Rights({ scopes, permissions }: { scopes: string[]; permissions: string[] }) {
  return (
    <section aria-labelledby="rights-heading">
      <h2 id="rights-heading">What it is given and may do</h2>
      <h3>It is given</h3>
      <ul>
        {scopeSentences(scopes).map((sentence) => (
          <li key={sentence}>{sentence}</li>
        ))}
      </ul>
      <h3>It may</h3>
      {permissions.length === 0 ? (
        <p>Nothing that changes what happens to mail: whatever else it answers is dropped.</p>
      ) : (
        <ul>
          {permissionSentences(permissions).map((sentence) => (
            <li key={sentence}>{sentence}</li>
          ))}
        </ul>
      )}
    </section>
  );
}

function InstalledParts({ plugin, onChanged }: { plugin: Installed; onChanged: (changed: Installed) => void }) {
  return (
    <>
      {secretsOf(plugin.manifest).length > 0 && (
        <section aria-labelledby="secrets-heading">
          <h2 id="secrets-heading">Secrets</h2>
          <PluginSecrets name={plugin.name} />
        </section>
      )}
      <section aria-labelledby="config-heading">
        <h2 id="config-heading">Configuration</h2>
        <ConfigForm plugin={plugin} onSaved={onChanged} />
      </section>
      <section aria-labelledby="activity-heading">
        <h2 id="activity-heading">Activity</h2>
        <PluginActivity name={plugin.name} />
      </section>
    </>
  );
}
