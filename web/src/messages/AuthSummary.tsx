// What the platform checked of a message at acceptance (SPF, DKIM, DMARC, ARC), one word
// per method (RFC 8601's), or why nothing was checked.
import type { Schemas } from "../api/client";

type Auth = Schemas["MessageDetail"]["auth"];

/** One word per method, from what the platform checked at acceptance. */
export function AuthSummary({ auth }: { auth: Auth | null }) {
  if (!auth) {
    return <p className="muted">Not checked (mail from a trusted network, or accepted before the checks).</p>;
  }
  const words = authWords(auth);
  return (
    <ul className="auth-words">
      {words.map(([method, word]) => (
        <li key={method} className={`auth-${word}`}>
          {method.toUpperCase()}: <strong>{word}</strong>
        </li>
      ))}
    </ul>
  );
}

export function authWords(auth: object): [string, string][] {
  const words: [string, string][] = [];
  for (const [method, value] of Object.entries(auth)) {
    if (Array.isArray(value)) {
      value.forEach((one, i) => words.push([value.length > 1 ? `${method} ${i + 1}` : method, resultOf(one)]));
    } else if (value) {
      words.push([method, resultOf(value)]);
    }
  }
  return words;
}

function resultOf(value: unknown): string {
  if (typeof value === "object" && value !== null && "result" in value) return String(value.result);
  return String(value);
}
