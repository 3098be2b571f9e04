// One local domain: the DNS records to publish with a live check, its DKIM keys, its
// aliases and catch-all (src/domains/ holds each part).
import { useCallback, useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { Aliases, CatchAll, MAILBOX_LIST } from "../domains/Aliases";
import { DkimKeys } from "../domains/DkimKeys";
import { DnsRecords } from "../domains/DnsRecords";
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";

export function DomainView({ name }: { name: string }) {
  const [dns, setDns] = useState<Schemas["DomainDnsOut"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [mailboxes, setMailboxes] = useState<string[]>([]);

  // The DKIM keys are read after the records: the first read of the records makes a key
  // for a domain that has none.
  const loadDns = useCallback(async () => {
    try {
      setDns(await unwrap(api.GET("/api/v1/domains/{domain}/dns", { params: { path: { domain: name } } })));
      setError(null);
    } catch (failure) {
      setError(describe(failure));
    }
  }, [name]);

  useEffect(() => {
    setDns(null);
    void loadDns();
  }, [loadDns]);

  useEffect(() => {
    // Suggestions for alias targets and the catch-all: the mailboxes of the domain's tenant.
    Promise.all([unwrap(api.GET("/api/v1/domains")), unwrap(api.GET("/api/v1/users"))])
      .then(([domains, users]) => {
        const tenant = domains.items.find((d) => d.name === name)?.tenant_id;
        setMailboxes(users.items.filter((u) => u.tenant_id === tenant).map((u) => u.address));
      })
      .catch(() => setMailboxes([]));
  }, [name]);

  return (
    <section className="domain">
      <p>
        <Link to="/domains">← Domains</Link>
      </p>
      <PageTitle text={name} />
      {error && <p className="error" role="alert">{error}</p>}
      {!dns && !error && <p role="status">Loading…</p>}
      {dns && (
        <>
          <DnsRecords domain={name} dns={dns} />
          <DkimKeys domain={name} onChanged={loadDns} />
          <Aliases domain={name} />
          <CatchAll domain={name} />
          <datalist id={MAILBOX_LIST}>
            {mailboxes.map((address) => (
              <option key={address} value={address} />
            ))}
          </datalist>
        </>
      )}
    </section>
  );
}
