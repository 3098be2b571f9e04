// Sign-in: an API token (the operator's admin token, or one made with `mairust token` or
// POST /api/v1/tokens), or a mailbox user's address and password, which the API exchanges
// for a one-hour token. A refusal is shown as the API words it; the form itself is
// auth/SignInForm.tsx.
import { useEffect, useState } from "react";
import { describe } from "../api/client";
import { SignInForm, type Credentials } from "../auth/SignInForm";
import { signInWithPassword, signInWithToken, type Session } from "../auth/session";

interface SignInProps {
  onSignedIn: (session: Session) => void;
  notice: string | null;
}

export function SignIn({ onSignedIn, notice }: SignInProps) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Sign in · MaiRust";
  }, []);

  async function submit(credentials: Credentials) {
    setBusy(true);
    setError(null);
    try {
      const session =
        credentials.method === "token"
          ? await signInWithToken(credentials.token)
          : await signInWithPassword(credentials.address, credentials.password);
      onSignedIn(session);
    } catch (failure) {
      setError(describe(failure));
      setBusy(false);
    }
  }

  return <SignInForm notice={notice} error={error} busy={busy} onSubmit={(c) => void submit(c)} />;
}
