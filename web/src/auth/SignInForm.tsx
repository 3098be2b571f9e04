// The sign-in form as markup: the choice of method, its fields, the notice and the
// refusal it is given. What a submission does is the caller's (pages/SignIn.tsx).
import { useState, type FormEvent } from "react";

export type Credentials =
  | { method: "token"; token: string }
  | { method: "password"; address: string; password: string };

interface SignInFormProps {
  /** A word from before (signed out, session ended), shown above the form. */
  notice: string | null;
  /** The last refusal, in the API's words. */
  error: string | null;
  busy: boolean;
  onSubmit: (credentials: Credentials) => void;
}

export function SignInForm({ notice, error, busy, onSubmit }: SignInFormProps) {
  const [method, setMethod] = useState<"token" | "password">("token");
  const [token, setToken] = useState("");
  const [address, setAddress] = useState("");
  const [password, setPassword] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    onSubmit(
      method === "token"
        ? { method, token: token.trim() }
        : { method, address: address.trim(), password },
    );
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
