// Bind an installed plugin at a point it declares (POST /api/v1/admin/hooks): the point list
// follows the chosen plugin's manifest, so only a binding the API accepts can be asked for.
import { useState, type FormEvent } from "react";
import { api, describe, unwrap } from "../api/client";
import { declaredPoints, type Binding, type HookPoint, type Plugin } from "./hookPoints";

interface AddBindingProps {
  plugins: Plugin[];
  onAdded: (binding: Binding) => void;
}

export function AddBinding({ plugins, onAdded }: AddBindingProps) {
  const [pluginName, setPluginName] = useState(plugins[0]?.name ?? "");
  const plugin = plugins.find((p) => p.name === pluginName) ?? plugins[0];
  const points = plugin ? declaredPoints(plugin) : [];
  const [chosenPoint, setPoint] = useState<HookPoint | "">("");
  const point = chosenPoint && points.includes(chosenPoint) ? chosenPoint : (points[0] ?? "");
  const [priority, setPriority] = useState("100");
  const [mode, setMode] = useState<Binding["mode"]>("enforce");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!plugin || !point) return;
    setBusy(true);
    setError(null);
    try {
      const body = { plugin: plugin.name, point, priority: Number(priority), mode };
      onAdded(await unwrap(api.POST("/api/v1/admin/hooks", { body })));
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="add-binding" aria-labelledby="add-binding-heading">
      <h2 id="add-binding-heading">Add a binding</h2>
      {plugins.length === 0 ? (
        <p className="empty-point">
          No plugin is installed yet. Install one (the plugin gallery, or <code>mairust plugin install DIR</code>), then
          bind it here.
        </p>
      ) : (
        <form className="filters" onSubmit={add}>
          <div className="field">
            <label htmlFor="bind-plugin">Plugin</label>
            <select id="bind-plugin" value={plugin?.name ?? ""} onChange={(e) => setPluginName(e.target.value)}>
              {plugins.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name} {p.version}
                  {p.enabled ? "" : " (off)"}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="bind-point">Hook point</label>
            <select id="bind-point" value={point} onChange={(e) => setPoint(e.target.value as HookPoint)}>
              {points.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="bind-priority">Priority</label>
            <input
              id="bind-priority"
              type="number"
              min={0}
              max={10000}
              required
              value={priority}
              onChange={(e) => setPriority(e.target.value)}
              aria-describedby="bind-priority-hint"
            />
            <span id="bind-priority-hint" className="hint">
              Lower runs first.
            </span>
          </div>
          <div className="field">
            <label htmlFor="bind-mode">Mode</label>
            <select id="bind-mode" value={mode} onChange={(e) => setMode(e.target.value as Binding["mode"])}>
              <option value="enforce">enforce</option>
              <option value="shadow">shadow (asked, never applied)</option>
            </select>
          </div>
          <div className="actions">
            <button type="submit" className="button" disabled={busy || !point}>
              Add binding
            </button>
          </div>
          {points.length === 0 && <p className="hint">This plugin declares no hook point.</p>}
          {error && <p className="error" role="alert">{error}</p>}
        </form>
      )}
    </section>
  );
}
