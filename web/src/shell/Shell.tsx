// The frame around every page once signed in: a skip link, the role's navigation, who is
// signed in and the sign-out button.
import type { ReactNode } from "react";
import { ROLE_NAMES, type Me } from "../auth/session";
import { entryOf, navFor } from "./nav";
import { Link } from "./router";

interface ShellProps {
  me: Me;
  path: string;
  onSignOut: () => void;
  children: ReactNode;
}

export function Shell({ me, path, onSignOut, children }: ShellProps) {
  const current = entryOf(path);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">MaiRust</span>
        <nav aria-label="Main">
          <ul className="nav-list">
            {navFor(me).map((entry) => (
              <li key={entry.path}>
                <Link to={entry.path} aria-current={entry === current ? "page" : undefined}>
                  {entry.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="role">{ROLE_NAMES[me.role]}</span>
          <button type="button" className="button secondary" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
