// A new token's secret, shown this once: selectable, with a copy button and the warning
// that it will not be shown again.
import { useEffect, useRef, useState } from "react";
import type { Schemas } from "../api/client";

export function TokenSecret({ made, onDone }: { made: Schemas["TokenCreated"]; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => heading.current?.focus(), []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(made.token);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("The browser refused to copy: select the secret and copy it yourself.");
    }
  }

  return (
    <section className="panel secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading" ref={heading} tabIndex={-1}>
        The secret of “{made.name}”
      </h2>
      <p className="warning" id="secret-warning">
        This is the only time it is shown: copy it now and keep it somewhere safe. It will not be shown again.
      </p>
      <div className="form-row">
        <div className="field wide">
          <label htmlFor="token-secret">Secret</label>
          <input
            id="token-secret"
            readOnly
            value={made.token}
            className="secret-value"
            aria-describedby="secret-warning"
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
        <div className="actions">
          <button type="button" className="button" onClick={copy}>
            Copy
          </button>
          <button type="button" className="button secondary" onClick={onDone}>
            I have stored it
          </button>
        </div>
      </div>
      <p role="status" className="muted">
        {copied}
      </p>
    </section>
  );
}
