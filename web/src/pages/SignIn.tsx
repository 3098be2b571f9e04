// Sign-in: an API token (the operator's admin token, or one made with `mairust token` or
// POST /api/v1/tokens), or a mailbox user's address and password, which the API exchanges
// for a one-hour token. A refusal is shown as the API words it.
import { useEffect, useState, type FormEvent } from "react";
import { describe } from "../api/client";
import { signInWithPassword, signInWithToken, type Session } from "../auth/session";

interface SignInProps {
  onSignedIn: (session: Session) => void;
  notice: string | null;
}

export function SignIn({ onSignedIn, notice }: SignInProps) {
  const [method, setMethod] = useState<"token" | "password">("token");
  const [token, setToken] = useState("");
  const [address, setAddress] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Sign in · MaiRust";
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session =
        method === "token"
          ? await signInWithToken(token.trim())
          : await signInWithPassword(address.trim(), password);
      onSignedIn(session);
    } catch (failure) {
      setError(describe(failure));
      setBusy(false);
    }
  }

  return (
    <main id="main" className="signin">
      <h1>Sign in to MaiRust</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} aria-describedby={error ? "signin-error" : undefined}>
        <fieldset className="choice">
          <legend>Sign in with</legend>
          <label>
            <input
              type="radio"
              name="method"
              value="token"
              checked={method === "token"}
              onChange={() => setMethod("token")}
            />
            An API token
          </label>
          <label>
            <input
              type="radio"
              name="method"
              value="password"
              checked={method === "password"}
              onChange={() => setMethod("password")}
            />
            Address and password
          </label>
        </fieldset>
        {method === "token" ? (
          <div className="field">
            <label htmlFor="token">Token</label>
            <input
              id="token"
              type="password"
              autoComplete="off"
              required
              value={token}
              onChange={(e) => setToken(e.target.value)}
            />
            <p className="hint">
              The admin token <code>mairust up</code> printed, or an API token (<code>mrt_…</code>).
            </p>
          </div>
        ) : (
          <>
            <div className="field">
              <label htmlFor="address">Address</label>
              <input
                id="address"
                type="email"
                autoComplete="username"
                required
                value={address}
                onChange={(e) => setAddress(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="password">Password</label>
              <input
                id="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </div>
          </>
        )}
        {error && (
          <p id="signin-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
