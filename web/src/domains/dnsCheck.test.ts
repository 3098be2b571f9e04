import { describe, expect, it } from "vitest";
import { checkSummary, checksByRecord, recordKey, recordLabel, type DnsCheck, type DnsRecord } from "./dnsCheck";

function record(purpose: DnsRecord["purpose"], name: string, value: string): DnsRecord {
  const type = purpose === "mx" ? "MX" : "TXT";
  return { purpose, name, type, value, zone: `${name}. 3600 IN ${type} ${value}` };
}

const MX = record("mx", "a.example", "10 mx.host");
const DKIM = record("dkim", "mr202612._domainkey.a.example", "v=DKIM1; k=rsa; p=AAA");

function check(r: DnsRecord, status: DnsCheck["status"]): DnsCheck {
  return { record: r, status, found: [], detail: null };
}

describe("DNS records and their check", () => {
  it("names a DKIM record by its selector, the others by purpose", () => {
    expect(recordLabel(MX)).toBe("MX");
    expect(recordLabel(DKIM)).toBe("DKIM (mr202612)");
  });
  it("matches a check to its record whatever the case of the name", () => {
    const checks = checksByRecord([check({ ...MX, name: "A.Example" }, "missing")]);
    expect(checks.get(recordKey(MX))?.status).toBe("missing");
    expect(checks.get(recordKey(DKIM))).toBeUndefined();
  });
  it("a record with another value is another record (a rotated key is not checked)", () => {
    expect(recordKey(DKIM)).not.toBe(recordKey({ ...DKIM, value: "v=DKIM1; k=rsa; p=BBB" }));
  });
  it("sums the check up and names what is left to do", () => {
    expect(checkSummary([])).toBe("No records were checked.");
    expect(checkSummary([check(MX, "ok")])).toBe("All 1 records are published as they should be.");
    expect(checkSummary([check(MX, "ok"), check(DKIM, "error")])).toBe(
      "1 of 2 records are published as they should be; to do: DKIM (mr202612).",
    );
  });
});
