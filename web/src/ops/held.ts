// Held (quarantined) mail in words: what a release or a delete will do, and what it did.
import type { Schemas } from "../api/client";

/** A held message as these words need it (the reading view does not know ``release_to``). */
export type Held = Pick<Schemas["HeldMessage"], "subject" | "mailbox" | "from"> & { release_to?: string };
export type HeldAction = "release" | "delete";

export const HELD_ACTIONS: Record<HeldAction, { label: string; danger: boolean }> = {
  release: { label: "Release", danger: false },
  delete: { label: "Delete", danger: true },
};

function named(message: Held): string {
  return `“${message.subject || "(no subject)"}” from ${message.from || "an unknown sender"}`;
}

export function heldConfirmText(action: HeldAction, message: Held): string {
  if (action === "release") {
    const folder = message.release_to ? `folder ${message.release_to}` : "the folder it was meant for";
    return `Release ${named(message)} into ${message.mailbox}, ${folder}? Its owner will see it there.`;
  }
  return `Delete ${named(message)} for good? It is removed from ${message.mailbox} with its stored body; this cannot be undone.`;
}

export function heldResultText(action: HeldAction, message: Held, folder?: string): string {
  if (action === "release") return `Released ${named(message)} to ${message.mailbox}, folder ${folder ?? message.release_to ?? "INBOX"}.`;
  return `Deleted ${named(message)}.`;
}

/** What an empty quarantine means for the view. */
export function heldEmptyText(mailbox: string, older: boolean): string {
  if (older) return "No older held messages.";
  if (mailbox) return `Nothing is held for ${mailbox}. Mail a hook quarantines shows here until it is released or deleted.`;
  return "Nothing is held. Mail a hook quarantines shows here until it is released or deleted.";
}
