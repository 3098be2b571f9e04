// One binding in its point's table: what runs, how it fails, its breaker and state; edit
// (priority, mode) in a row below, switch on or off in one click, remove after a
// confirmation. Each change is the API's answer, shown at once.
import { useState, type FormEvent } from "react";
import { api, ApiError, describe, unwrap } from "../api/client";
import { breakerWords, failurePolicy, policyWords, type Binding, type Figures, type Plugin } from "./hookPoints";

interface BindingRowProps {
  order: number;
  binding: Binding;
  plugin: Plugin | undefined;
  figures: Figures | undefined;
  onChanged: (binding: Binding) => void;
  onRemoved: (binding: Binding) => void;
}

const COLUMNS = 10;

export function BindingRow({ order, binding, plugin, figures, onChanged, onRemoved }: BindingRowProps) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const policy = failurePolicy(plugin);
  // Names that tell two bindings of one plugin apart, for a screen reader and a test.
  const which = `${binding.plugin} at ${binding.point}, priority ${binding.priority}`;

  async function change(body: { priority?: number; mode?: Binding["mode"]; enabled?: boolean }) {
    setBusy(true);
    setError(null);
    try {
      const changed = await unwrap(
        api.PATCH("/api/v1/admin/hooks/{binding_id}", { params: { path: { binding_id: binding.id } }, body }),
      );
      onChanged(changed);
      return true;
    } catch (failure) {
      setError(describe(failure));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setError(null);
    try {
      const { response, error: problem } = await api.DELETE("/api/v1/admin/hooks/{binding_id}", {
        params: { path: { binding_id: binding.id } },
      });
      if (!response.ok) throw new ApiError(response.status, problem);
      onRemoved(binding);
    } catch (failure) {
      setError(describe(failure));
      setBusy(false);
    }
  }

  return (
    <>
      <tr className={binding.enabled ? undefined : "binding-off"}>
        <td>{order}</td>
        <td>
          {binding.plugin}
          {plugin && !plugin.enabled && <span className="badge">plugin off</span>}
          {binding.tenant_id && <span className="tag">tenant {binding.tenant_id}</span>}
          {binding.domain && <span className="tag">{binding.domain}</span>}
        </td>
        <td>{binding.priority}</td>
        <td>{binding.mode}</td>
        <td>{policy.callMs} ms</td>
        <td>{policyWords(policy.onTimeout)}</td>
        <td>{policyWords(policy.onError)}</td>
        <td>{breakerWords(figures)}</td>
        <td>{binding.enabled ? "on" : "off"}</td>
        <td className="row-actions">
          {confirming ? (
            <>
              <span>Remove this binding?</span>
              <button type="button" className="button danger" disabled={busy} onClick={remove} aria-label={`Remove ${which}`}>
                Remove
              </button>
              <button type="button" className="button secondary" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </>
          ) : (
            <>
              <button
                type="button"
                className="button secondary"
                aria-expanded={editing}
                aria-label={`Edit ${which}`}
                onClick={() => setEditing(!editing)}
              >
                Edit
              </button>
              <button
                type="button"
                className="button secondary"
                disabled={busy}
                aria-label={`${binding.enabled ? "Disable" : "Enable"} ${which}`}
                onClick={() => change({ enabled: !binding.enabled })}
              >
                {binding.enabled ? "Disable" : "Enable"}
              </button>
              <button type="button" className="button secondary" aria-label={`Delete ${which}`} onClick={() => setConfirming(true)}>
                Delete
              </button>
            </>
          )}
          {error && <p className="error" role="alert">{error}</p>}
        </td>
      </tr>
      {editing && (
        <tr className="binding-edit">
          <td colSpan={COLUMNS}>
            <EditBinding binding={binding} busy={busy} onSave={async (body) => (await change(body)) && setEditing(false)} onCancel={() => setEditing(false)} />
          </td>
        </tr>
      )}
    </>
  );
}

interface EditProps {
  binding: Binding;
  busy: boolean;
  onSave: (body: { priority: number; mode: Binding["mode"] }) => void;
  onCancel: () => void;
}

function EditBinding({ binding, busy, onSave, onCancel }: EditProps) {
  const [priority, setPriority] = useState(String(binding.priority));
  const [mode, setMode] = useState<Binding["mode"]>(binding.mode);
  const id = `edit-${binding.id}`;

  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    onSave({ priority: Number(priority), mode });
  }

  return (
    <form className="inline-form" onSubmit={save} aria-label={`Edit ${binding.plugin} at ${binding.point}`}>
      <div className="field">
        <label htmlFor={`${id}-priority`}>Priority</label>
        <input
          id={`${id}-priority`}
          type="number"
          min={0}
          max={10000}
          required
          value={priority}
          onChange={(e) => setPriority(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-mode`}>Mode</label>
        <select id={`${id}-mode`} value={mode} onChange={(e) => setMode(e.target.value as Binding["mode"])}>
          <option value="enforce">enforce</option>
          <option value="shadow">shadow (asked, never applied)</option>
        </select>
      </div>
      <div className="actions">
        <button type="submit" className="button" disabled={busy}>
          Save
        </button>
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
