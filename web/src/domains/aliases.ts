// The alias form's words turned into what the API takes.

/** A full address of ``domain``: a bare local part gets ``@domain``. */
export function aliasAddress(input: string, domain: string): string {
  const text = input.trim();
  if (!text) return "";
  return text.includes("@") ? text : `${text}@${domain}`;
}

/** The target mailboxes from a list separated by commas, spaces or new lines, each once
 * (bare local parts are of ``domain``). */
export function parseTargets(text: string, domain: string): string[] {
  const seen = new Set<string>();
  const targets: string[] = [];
  for (const part of text.split(/[\s,;]+/)) {
    const address = aliasAddress(part, domain);
    if (address && !seen.has(address.toLowerCase())) {
      seen.add(address.toLowerCase());
      targets.push(address);
    }
  }
  return targets;
}
