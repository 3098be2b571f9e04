// A mailbox quota as a person sets it (the platform default, unlimited, or an amount in
// MiB or GiB) and as the API takes it (`quota_bytes`: null, 0, or bytes).

export type QuotaMode = "default" | "unlimited" | "limit";
export type QuotaUnit = "MiB" | "GiB";

export interface QuotaForm {
  mode: QuotaMode;
  amount: string;
  unit: QuotaUnit;
}

const UNIT_BYTES: Record<QuotaUnit, number> = { MiB: 1024 ** 2, GiB: 1024 ** 3 };
// The API's ceiling (QuotaSet.quota_bytes ≤ 10^15).
export const MAX_QUOTA_BYTES = 10 ** 15;

/** The form showing a mailbox's own setting. */
export function quotaForm(quotaBytes: number | null): QuotaForm {
  if (quotaBytes === null) return { mode: "default", amount: "", unit: "MiB" };
  if (quotaBytes === 0) return { mode: "unlimited", amount: "", unit: "MiB" };
  const unit: QuotaUnit = quotaBytes % UNIT_BYTES.GiB === 0 ? "GiB" : "MiB";
  const amount = quotaBytes / UNIT_BYTES[unit];
  return { mode: "limit", amount: String(Number(amount.toFixed(2))), unit };
}

/** `quota_bytes` for the form, or the words of what is wrong with it. */
export function quotaBytes(form: QuotaForm): { bytes: number | null } | { problem: string } {
  if (form.mode === "default") return { bytes: null };
  if (form.mode === "unlimited") return { bytes: 0 };
  const amount = Number(form.amount.trim());
  if (!form.amount.trim() || !Number.isFinite(amount) || amount <= 0) {
    return { problem: "Give the quota as a number above zero." };
  }
  const bytes = Math.round(amount * UNIT_BYTES[form.unit]);
  if (bytes > MAX_QUOTA_BYTES) return { problem: "That is above the largest quota (10^15 bytes)." };
  return { bytes };
}

/** A limit for a person: "unlimited", or its size. */
export function describeLimit(bytes: number): string {
  if (bytes === 0) return "unlimited";
  if (bytes >= UNIT_BYTES.GiB) return `${trim(bytes / UNIT_BYTES.GiB)} GiB`;
  if (bytes >= UNIT_BYTES.MiB) return `${trim(bytes / UNIT_BYTES.MiB)} MiB`;
  return `${bytes} B`;
}

/** A user's own setting in a list: the default, unlimited, or the size. */
export function describeSetting(quotaBytes: number | null): string {
  return quotaBytes === null ? "platform default" : describeLimit(quotaBytes);
}

function trim(value: number): string {
  return String(Number(value.toFixed(1)));
}
