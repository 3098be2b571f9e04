// The secrets an installed plugin's manifest names: whether each is set and since when
// (never a value), and a field to set one. A plugin is switched on only once all are set.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, describe, unwrap, type Schemas } from "../api/client";

export function PluginSecrets({ name }: { name: string }) {
  const [secrets, setSecrets] = useState<Schemas["SecretOut"][] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    unwrap(api.GET("/api/v1/admin/plugins/{name}/secrets", { params: { path: { name } } }))
      .then((list) => setSecrets(list.items))
      .catch((failure) => setError(describe(failure)));
  }, [name]);
  useEffect(load, [load]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!secrets) return <p role="status">Loading…</p>;
  return (
    <ul className="secrets">
      {secrets.map((secret) => (
        <li key={secret.name}>
          <SecretField plugin={name} secret={secret} onSet={load} />
        </li>
      ))}
    </ul>
  );
}

function SecretField({ plugin, secret, onSet }: { plugin: string; secret: Schemas["SecretOut"]; onSet: () => void }) {
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const id = `secret-${secret.name}`;

  async function set(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    try {
      // 204: no body to unwrap.
      const { response, error } = await api.PUT("/api/v1/admin/plugins/{name}/secrets/{secret}", {
        params: { path: { name: plugin, secret: secret.name } },
        body: { value },
      });
      if (!response.ok) throw new ApiError(response.status, error);
    } catch (failure) {
      setProblem(describe(failure));
      return;
    }
    setValue("");
    onSet();
  }

  return (
    <form className="secret-form" onSubmit={set}>
      <p>
        <strong>{secret.name}</strong>:{" "}
        {secret.set_at ? `set ${new Date(secret.set_at).toLocaleString()}` : "not set"}
        {!secret.declared && " (no longer named by its manifest)"}
      </p>
      <div className="field">
        <label htmlFor={id}>New value of {secret.name}</label>
        <input id={id} type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
      </div>
      <button type="submit" className="button secondary" disabled={!value}>
        Set {secret.name}
      </button>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
