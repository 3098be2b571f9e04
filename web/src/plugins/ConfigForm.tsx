// An installed plugin's configuration as a form generated from its schema (configForm.ts);
// saving PATCHes the configuration, and a refusal is shown in the API's words.
import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { configFrom, fieldsOf, initialValues, type Field, type FormValues } from "./configForm";
import { configSchemaOf } from "./manifest";

type Plugin = Schemas["PluginOut"];

export function ConfigForm({ plugin, onSaved }: { plugin: Plugin; onSaved: (changed: Plugin) => void }) {
  const fields = useMemo(() => fieldsOf(configSchemaOf(plugin.manifest)), [plugin.manifest]);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields, plugin.config));
  const [problems, setProblems] = useState<string[]>([]);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  if (fields.length === 0) {
    return <p>This plugin takes no configuration.</p>;
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    const built = configFrom(fields, values);
    setProblems(built.problems);
    if (built.problems.length > 0) return;
    setBusy(true);
    try {
      const changed = await unwrap(
        api.PATCH("/api/v1/admin/plugins/{name}", { params: { path: { name: plugin.name } }, body: { config: built.config } }),
      );
      setSaved(true);
      onSaved(changed);
    } catch (failure) {
      setProblems([describe(failure)]);
    } finally {
      setBusy(false);
    }
  }

  const change = (key: string, value: string | boolean) => {
    setSaved(false);
    setValues((current) => ({ ...current, [key]: value }));
  };
  return (
    <form className="config-form" onSubmit={save} aria-label={`Configuration of ${plugin.name}`}>
      {fields.map((field) => (
        <FieldControl key={field.key} field={field} values={values} onChange={change} />
      ))}
      {problems.length > 0 && (
        <div className="error" role="alert">
          <p>Not saved:</p>
          <ul>
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="actions">
        <button type="submit" className="button" disabled={busy}>
          Save configuration
        </button>
        <span role="status">{saved ? "Saved." : ""}</span>
      </div>
    </form>
  );
}

interface ControlProps {
  field: Field;
  values: FormValues;
  onChange: (key: string, value: string | boolean) => void;
}

function FieldControl({ field, values, onChange }: ControlProps) {
  if (field.kind === "group") {
    return (
      <fieldset className="config-group">
        <legend>{field.label}</legend>
        {field.hint && <p className="hint">{field.hint}</p>}
        {field.fields.map((inner) => (
          <FieldControl key={inner.key} field={inner} values={values} onChange={onChange} />
        ))}
      </fieldset>
    );
  }
  const id = `config-${field.key.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  const hintId = field.hint ? `${id}-hint` : undefined;
  const value = values[field.key];
  const text = typeof value === "string" ? value : "";
  const common = { id, "aria-describedby": hintId, "aria-required": field.required || undefined };
  let control: ReactNode;
  if (field.kind === "boolean") {
    control = <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(field.key, e.target.checked)} />;
  } else if (field.kind === "select") {
    control = (
      <select {...common} value={text} onChange={(e) => onChange(field.key, e.target.value)}>
        {!field.required && <option value="">(the plugin's default)</option>}
        {field.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    );
  } else if (field.kind === "lines" || field.kind === "json") {
    control = <textarea {...common} rows={4} value={text} onChange={(e) => onChange(field.key, e.target.value)} />;
  } else {
    const numeric = field.kind === "number" || field.kind === "integer";
    control = (
      <input
        {...common}
        type="text"
        inputMode={numeric ? "decimal" : undefined}
        value={text}
        onChange={(e) => onChange(field.key, e.target.value)}
      />
    );
  }
  return (
    <div className={field.kind === "boolean" ? "field field-check" : "field"}>
      <label htmlFor={id}>
        {field.label}
        {field.required && <span className="muted"> (required)</span>}
      </label>
      {control}
      {hintId && (
        <p className="hint" id={hintId}>
          {field.hint}
        </p>
      )}
    </div>
  );
}
