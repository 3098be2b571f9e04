// The hook bindings (platform admin): every hook point in pipeline order, each point's
// bindings in the order they run, with the plugin's time limit, failure policy and circuit
// breakers; add a binding, edit, switch on or off, remove. GET/POST/PATCH/DELETE
// /api/v1/admin/hooks, with the installed plugins and their figures beside.
import { useCallback, useEffect, useState } from "react";
import { api, describe, unwrap } from "../api/client";
import { AddBinding } from "../bindings/AddBinding";
import { BindingRow } from "../bindings/BindingRow";
import { groupByPoint, type Binding, type Figures, type Plugin, type PointGroup } from "../bindings/hookPoints";
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";

export function Hooks() {
  const [bindings, setBindings] = useState<Binding[] | null>(null);
  const [plugins, setPlugins] = useState<Plugin[]>([]);
  const [figures, setFigures] = useState<Record<string, Figures>>({});
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string>("");

  const loadFigures = useCallback((names: string[]) => {
    for (const name of new Set(names)) {
      unwrap(api.GET("/api/v1/admin/plugins/{name}/figures", { params: { path: { name } } }))
        .then((found) => setFigures((known) => ({ ...known, [name]: found })))
        // A plugin's figures are a detail: without them its breaker reads "unknown".
        .catch(() => undefined);
    }
  }, []);

  useEffect(() => {
    Promise.all([unwrap(api.GET("/api/v1/admin/hooks")), unwrap(api.GET("/api/v1/admin/plugins"))])
      .then(([bound, installed]) => {
        setBindings(bound.items);
        setPlugins(installed.items);
        loadFigures(bound.items.map((b) => b.plugin));
      })
      .catch((failure) => setError(describe(failure)));
  }, [loadFigures]);

  function added(binding: Binding) {
    setBindings((known) => [...(known ?? []), binding]);
    setNotice(`Bound ${binding.plugin} at ${binding.point} (priority ${binding.priority}, ${binding.mode}).`);
    if (!figures[binding.plugin]) loadFigures([binding.plugin]);
  }

  function changed(binding: Binding) {
    setBindings((known) => (known ?? []).map((b) => (b.id === binding.id ? binding : b)));
    setNotice(`${binding.plugin} at ${binding.point} is ${binding.enabled ? "on" : "off"}, priority ${binding.priority}, ${binding.mode}.`);
  }

  function removed(binding: Binding) {
    setBindings((known) => (known ?? []).filter((b) => b.id !== binding.id));
    setNotice(`Removed ${binding.plugin} from ${binding.point}.`);
  }

  return (
    <section>
      <PageTitle text="Hooks" />
      <p className="hint">
        The plugins asked at each hook point, in the order they run (lower priority first). A shadow binding is
        asked and its verdict recorded, never applied. <Link to="/hooks/test">Test a hook point</Link> against a
        message.
      </p>
      <p role="status" className={notice ? "notice" : "visually-hidden"}>
        {notice}
      </p>
      {error && <p className="error" role="alert">{error}</p>}
      {bindings === null && !error && <p role="status">Loading…</p>}
      {bindings !== null && (
        <>
          <AddBinding plugins={plugins} onAdded={added} />
          {groupByPoint(bindings).map((group) => (
            <PointSection
              key={group.info.point}
              group={group}
              plugins={plugins}
              figures={figures}
              onChanged={changed}
              onRemoved={removed}
            />
          ))}
        </>
      )}
    </section>
  );
}

interface PointSectionProps {
  group: PointGroup;
  plugins: Plugin[];
  figures: Record<string, Figures>;
  onChanged: (binding: Binding) => void;
  onRemoved: (binding: Binding) => void;
}

function PointSection({ group, plugins, figures, onChanged, onRemoved }: PointSectionProps) {
  const { info, bindings } = group;
  const heading = `point-${info.point}`;
  return (
    <section className="hook-point" aria-labelledby={heading}>
      <div className="hook-point-head">
        <h2 id={heading}>{info.point}</h2>
        {info.synchronous && bindings.length > 0 && (
          <Link to={`/hooks/test?point=${info.point}`} aria-label={`Test ${info.point}`}>
            Test
          </Link>
        )}
      </div>
      <p className="muted">{info.description}</p>
      {bindings.length === 0 ? (
        <p className="empty-point">No plugin is bound at {info.point}: mail passes it unasked. Add a binding above.</p>
      ) : (
        <table className="list bindings">
          <caption className="visually-hidden">Bindings at {info.point}, in the order they run</caption>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Plugin</th>
              <th scope="col">Priority</th>
              <th scope="col">Mode</th>
              <th scope="col">Time limit</th>
              <th scope="col">On timeout</th>
              <th scope="col">On error</th>
              <th scope="col">Circuit breaker</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {bindings.map((binding, index) => (
              <BindingRow
                key={binding.id}
                order={index + 1}
                binding={binding}
                plugin={plugins.find((p) => p.name === binding.plugin)}
                figures={figures[binding.plugin]}
                onChanged={onChanged}
                onRemoved={onRemoved}
              />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
