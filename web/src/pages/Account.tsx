// Who the token is, as the API says (GET /api/v1/auth/me at sign-in).
import { ROLE_NAMES, type Session } from "../auth/session";
import { PageTitle } from "../shell/PageTitle";

export function Account({ session }: { session: Session }) {
  const { me } = session;
  return (
    <section>
      <PageTitle text="Account" />
      <dl className="facts">
        <dt>Role</dt>
        <dd>{ROLE_NAMES[me.role]}</dd>
        <dt>Permissions</dt>
        <dd>{me.permissions.join(", ")}</dd>
        <dt>Tenant</dt>
        <dd>{me.tenant_id ?? "every tenant (platform)"}</dd>
        <dt>Mailbox</dt>
        <dd>{me.mailbox_id ?? "—"}</dd>
        <dt>Token</dt>
        <dd>
          {me.actor}
          {session.loginTokenId ? " (a one-hour log-in token, revoked when you sign out)" : ""}
        </dd>
      </dl>
    </section>
  );
}
