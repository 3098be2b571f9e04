// DKIM keys: the algorithms the API offers (checked against its schema), and which
// action a person is offered for each: generate where none is active, rotate otherwise.
import type { Schemas } from "../api/client";

export type DkimKey = Schemas["DkimKeyOut"];
export type DkimAlgorithm = Schemas["DkimAlgorithm"];

/** Every algorithm of the API's enum: a new one there fails the type check here. */
export const DKIM_ALGORITHMS = ["rsa2048", "ed25519"] as const satisfies readonly DkimAlgorithm[];
type Unlisted = Exclude<DkimAlgorithm, (typeof DKIM_ALGORITHMS)[number]>;
/** Does not compile when the API's enum gains an algorithm the list above lacks. */
export const EVERY_ALGORITHM_LISTED: [Unlisted] extends [never] ? true : never = true;

export const ALGORITHM_NAMES: Record<DkimAlgorithm, string> = {
  rsa2048: "RSA 2048 (rsa-sha256)",
  ed25519: "Ed25519 (ed25519-sha256)",
};

/** Active keys first, then retired ones; newest first within each. */
export function orderKeys(keys: readonly DkimKey[]): DkimKey[] {
  return [...keys].sort((a, b) => {
    if (a.state !== b.state) return a.state === "active" ? -1 : 1;
    return b.created_at.localeCompare(a.created_at);
  });
}

/** The algorithms a new key may be made with: those without an active key (the API
 * answers 409 for the others: they are rotated instead). */
export function generatable(keys: readonly DkimKey[]): DkimAlgorithm[] {
  const active = new Set(keys.filter((k) => k.state === "active").map((k) => k.algorithm));
  return DKIM_ALGORITHMS.filter((algorithm) => !active.has(algorithm));
}
