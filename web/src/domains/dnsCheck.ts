// The DNS records to publish beside what the last live check found for each: pure
// matching and wording, no fetching (the domain page's DnsRecords does that).
import type { Schemas } from "../api/client";

export type DnsRecord = Schemas["DnsRecordOut"];
export type DnsCheck = Schemas["DnsCheckOut"];
export type CheckStatus = DnsCheck["status"];

const PURPOSE_NAMES: Record<DnsRecord["purpose"], string> = {
  mx: "MX",
  spf: "SPF",
  dkim: "DKIM",
  dmarc: "DMARC",
};

/** What each state means, for a person (the API's word is shown beside it). */
export const STATUS_MEANINGS: Record<CheckStatus, string> = {
  ok: "published as it should be",
  missing: "not published yet",
  different: "published with another value",
  error: "the lookup failed, try again later",
};

/** A record's identity: the same record in the list and in a check's answer. */
export function recordKey(record: DnsRecord): string {
  return [record.purpose, record.name.toLowerCase(), record.type, record.value].join(" ");
}

/** How a row names its record: the purpose, and a DKIM record's selector. */
export function recordLabel(record: DnsRecord): string {
  const purpose = PURPOSE_NAMES[record.purpose];
  if (record.purpose !== "dkim") return purpose;
  const selector = record.name.split("._domainkey.")[0];
  return `${purpose} (${selector})`;
}

/** The check of each record, by recordKey (a record the check did not cover has none). */
export function checksByRecord(checks: readonly DnsCheck[]): Map<string, DnsCheck> {
  return new Map(checks.map((check) => [recordKey(check.record), check]));
}

/** One line on the whole check: how many records are fine, and which need work. */
export function checkSummary(checks: readonly DnsCheck[]): string {
  if (checks.length === 0) return "No records were checked.";
  const ok = checks.filter((c) => c.status === "ok").length;
  if (ok === checks.length) return `All ${ok} records are published as they should be.`;
  const pending = checks.filter((c) => c.status !== "ok").map((c) => recordLabel(c.record));
  return `${ok} of ${checks.length} records are published as they should be; to do: ${pending.join(", ")}.`;
}
