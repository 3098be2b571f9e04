// The DNS records a domain publishes, each with what the last live check found for it
// (GET /domains/{domain}/dns-check, run when the page opens and by "Check now").
import { useCallback, useEffect, useState } from "react";
import { api, describe, unwrap, type Schemas } from "../api/client";
import { checkSummary, checksByRecord, recordKey, recordLabel, STATUS_MEANINGS, type DnsCheck } from "./dnsCheck";

type DomainDns = Schemas["DomainDnsOut"];

export function DnsRecords({ domain, dns }: { domain: string; dns: DomainDns }) {
  const [checks, setChecks] = useState<Map<string, DnsCheck> | null>(null);
  const [summary, setSummary] = useState("");
  const [checkedAt, setCheckedAt] = useState<Date | null>(null);
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const check = useCallback(async () => {
    setChecking(true);
    setError(null);
    try {
      const answer = await unwrap(
        api.GET("/api/v1/domains/{domain}/dns-check", { params: { path: { domain } } }),
      );
      setChecks(checksByRecord(answer.items));
      setSummary(checkSummary(answer.items));
      setCheckedAt(new Date());
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setChecking(false);
    }
  }, [domain]);

  useEffect(() => {
    void check();
  }, [check]);

  return (
    <section aria-labelledby="dns-heading">
      <h2 id="dns-heading">DNS records to publish</h2>
      <div className="toolbar">
        <button type="button" className="button" onClick={check} disabled={checking}>
          {checking ? "Checking…" : "Check now"}
        </button>
        <p role="status" className="muted">
          {checking
            ? "Looking the records up…"
            : checkedAt
              ? `Last checked ${checkedAt.toLocaleTimeString()}. ${summary}`
              : "Not checked yet."}
        </p>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <table className="list dns">
        <caption className="visually-hidden">DNS records of {domain} and their state</caption>
        <thead>
          <tr>
            <th scope="col">Record</th>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Value</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {dns.records.map((record) => {
            const found = checks?.get(recordKey(record));
            return (
              <tr key={recordKey(record)}>
                <th scope="row">{recordLabel(record)}</th>
                <td className="dns-value dns-name">{record.name}</td>
                <td>{record.type}</td>
                <td className="dns-value">{record.value}</td>
                <td>{found ? <CheckState check={found} /> : <span className="muted">not checked</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <details>
        <summary>The records as zone-file lines</summary>
        <pre className="record-text" aria-label="Zone-file lines">
          {dns.zone}
        </pre>
      </details>
    </section>
  );
}

function CheckState({ check }: { check: DnsCheck }) {
  return (
    <>
      <span className={`check check-${check.status}`}>{check.status}</span>{" "}
      <span className="muted">
        {STATUS_MEANINGS[check.status]}
        {check.status === "different" && check.found.length > 0 && `; found: ${check.found.join(" | ")}`}
        {check.status === "error" && check.detail && ` (${check.detail})`}
      </span>
    </>
  );
}
