// The API tokens in the caller's scope (GET /api/v1/tokens, never a secret): listed a
// page at a time, created (the secret shown once) and revoked after a question.
import { useCallback, useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { ROLE_NAMES, type Me } from "../auth/session";
import { ConfirmButton } from "../domains/ConfirmButton";
import { PageTitle } from "../shell/PageTitle";
import { CreateToken } from "../tokens/CreateToken";
import { TokenSecret } from "../tokens/TokenSecret";
import { listed, tokenState, type Token } from "../tokens/tokenForm";

const PAGE_SIZE = 50;

export function Tokens({ me }: { me: Me }) {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState<Schemas["TokenCreated"] | null>(null);

  const load = useCallback(async (after?: string) => {
    try {
      const page = await unwrap(api.GET("/api/v1/tokens", { params: { query: { limit: PAGE_SIZE, after } } }));
      setTokens((shown) => (after ? [...(shown ?? []), ...page.items] : page.items));
      setNext(page.next ?? null);
      setError(null);
    } catch (failure) {
      setError(describe(failure));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  async function revoke(token: Token) {
    try {
      const revoked = await unwrap(api.DELETE("/api/v1/tokens/{token_id}", { params: { path: { token_id: token.id } } }));
      setTokens((shown) => (shown ?? []).map((t) => (t.id === revoked.id ? revoked : t)));
      setError(null);
    } catch (failure) {
      setError(describe(failure));
    }
  }

  function created(token: Schemas["TokenCreated"]) {
    setMade(token);
    // At the end of what is shown (the list is oldest first, it may have more pages).
    setTokens((shown) => [...(shown ?? []).filter((t) => t.id !== token.id), listed(token)]);
  }

  return (
    <section>
      <PageTitle text="API tokens" />
      {made && <TokenSecret made={made} onDone={() => setMade(null)} />}
      {error && <p className="error" role="alert">{error}</p>}
      {tokens === null && !error && <p role="status">Loading…</p>}
      {tokens && tokens.length === 0 && <p>No API tokens yet: create one below for a script or a service.</p>}
      {tokens && tokens.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">API tokens, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Permissions</th>
              <th scope="col">Made</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => {
              const state = tokenState(token);
              return (
                <tr key={token.id}>
                  <th scope="row">{token.name}</th>
                  <td>{ROLE_NAMES[token.role]}</td>
                  <td>{token.permissions.join(", ")}</td>
                  <td>{new Date(token.created_at).toLocaleString()}</td>
                  <td>{token.expires_at ? new Date(token.expires_at).toLocaleString() : "never"}</td>
                  <td>{token.last_used_at ? new Date(token.last_used_at).toLocaleString() : "never"}</td>
                  <td>{state}</td>
                  <td>
                    {state === "active" && (
                      <ConfirmButton
                        label="Revoke"
                        name={`Revoke ${token.name}`}
                        question={`Revoke “${token.name}”? Whatever uses it is refused from now on.`}
                        confirm="Yes, revoke"
                        onConfirm={() => revoke(token)}
                      />
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {next && (
        <p>
          <button type="button" className="button secondary" onClick={() => void load(next)}>
            Show more tokens
          </button>
        </p>
      )}
      <CreateToken me={me} onCreated={created} />
    </section>
  );
}
