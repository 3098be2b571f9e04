// The app: sign-in until a token is accepted, then the shell with the pages the token's
// role may use. Every page is a real URL; a page of another role says so.
import { useCallback, useEffect, useState } from "react";
import { setBearer } from "./api/client";
import { loadSession, revokeLogIn, saveSession, type Session } from "./auth/session";
import { Account } from "./pages/Account";
import { Dashboard } from "./pages/Dashboard";
import { Domains } from "./pages/Domains";
import { DomainView } from "./pages/DomainView";
import { HeldMessageView } from "./pages/HeldMessageView";
import { Hooks } from "./pages/Hooks";
import { HookTest } from "./pages/HookTest";
import { Messages } from "./pages/Messages";
import { MessageView } from "./pages/MessageView";
import { Missing } from "./pages/Missing";
import { Plugin } from "./pages/Plugin";
import { Plugins } from "./pages/Plugins";
import { Quarantine } from "./pages/Quarantine";
import { Queue } from "./pages/Queue";
import { SignIn } from "./pages/SignIn";
import { Tokens } from "./pages/Tokens";
import { Trace } from "./pages/Trace";
import { Users } from "./pages/Users";
import { entryOf, homeFor, navFor } from "./shell/nav";
import { navigate, useLocation } from "./shell/router";
import { Shell } from "./shell/Shell";

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);
  const { path } = useLocation();

  const expired = useCallback(() => {
    saveSession(null);
    setSession(null);
    setNotice("Your session has ended (the server no longer accepts its token). Sign in again.");
  }, []);
  // Before any child renders and fetches: the token every call carries.
  setBearer(session?.token ?? null, session ? expired : null);

  function signedIn(next: Session) {
    saveSession(next);
    setNotice(null);
    setSession(next);
    const wanted = entryOf(path);
    const allowed = wanted && navFor(next.me).includes(wanted);
    navigate(allowed ? path : homeFor(next.me), { replace: true });
  }

  async function signOut() {
    if (session) await revokeLogIn(session);
    saveSession(null);
    setSession(null);
    setNotice("You are signed out.");
    navigate("/", { replace: true });
  }

  useEffect(() => {
    if (session && (path === "/" || path === "/signin")) {
      navigate(homeFor(session.me), { replace: true });
    }
  }, [session, path]);

  if (!session) return <SignIn onSignedIn={signedIn} notice={notice} />;
  return (
    <Shell me={session.me} path={path} onSignOut={signOut}>
      {pageFor(path, session)}
    </Shell>
  );
}

function pageFor(path: string, session: Session) {
  const entry = entryOf(path);
  if (!entry) return <Missing kind="not-found" path={path} />;
  if (!navFor(session.me).includes(entry)) return <Missing kind="not-allowed" path={path} />;
  if (path === "/dashboard") return <Dashboard />;
  if (path === "/messages") return <Messages />;
  if (path.startsWith("/messages/")) return <MessageView id={decodeURIComponent(path.slice(10))} />;
  if (path === "/domains") return <Domains me={session.me} />;
  if (path.startsWith("/domains/")) return <DomainView key={path} name={decodeURIComponent(path.slice(9))} />;
  if (path === "/users") return <Users />;
  if (path === "/hooks") return <Hooks />;
  if (path === "/hooks/test") return <HookTest />;
  if (path === "/plugins") return <Plugins />;
  if (path.startsWith("/plugins/")) return <Plugin name={decodeURIComponent(path.slice(9))} />;
  if (path === "/tokens") return <Tokens me={session.me} />;
  if (path === "/account") return <Account session={session} />;
  if (path === "/queue") return <Queue me={session.me} />;
  if (path === "/quarantine") return <Quarantine me={session.me} />;
  if (path.startsWith("/quarantine/")) return <HeldMessageView id={decodeURIComponent(path.slice(12))} />;
  if (path === "/trace") return <Trace />;
  return <Missing kind="not-found" path={path} />;
}
