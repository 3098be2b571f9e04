// Test execution (platform admin): a hook point's plugins, as bound now, asked about a
// message — pasted, or a stored one — with an envelope, through
// POST /api/v1/admin/hooks/{point}/test. Nothing is stored, delivered or recorded.
import { useState, type FormEvent } from "react";
import { api, describe, unwrap } from "../api/client";
import { DryRunResult } from "../bindings/DryRunResult";
import { HOOK_POINTS, parseRecipients, pointInfo, type DryRun, type HookPoint } from "../bindings/hookPoints";
import { MessagePicker, type PickedMessage } from "../bindings/MessagePicker";
import { PageTitle } from "../shell/PageTitle";
import { Link, useLocation } from "../shell/router";

const TESTABLE = HOOK_POINTS.filter((info) => info.synchronous);

export function HookTest() {
  const { query } = useLocation();
  const asked = query.get("point");
  const [point, setPoint] = useState<HookPoint>(
    TESTABLE.find((info) => info.point === asked)?.point ?? "pre_receive",
  );
  const [raw, setRaw] = useState("");
  const [picked, setPicked] = useState<string | null>(null);
  const [mailFrom, setMailFrom] = useState("");
  const [recipients, setRecipients] = useState("");
  const [clientIp, setClientIp] = useState("192.0.2.1");
  const [helo, setHelo] = useState("dry-run.example");
  const [running, setRunning] = useState(false);
  const [run, setRun] = useState<DryRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const envelopeOnly = pointInfo(point)?.envelopeOnly ?? false;

  function takePicked({ summary, raw: text }: PickedMessage) {
    setRaw(text);
    setMailFrom(summary.from);
    setRecipients(summary.mailbox);
    setPicked(`“${summary.subject || "(no subject)"}” from ${summary.mailbox} is in the message box below.`);
  }

  async function test(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const rcptTos = parseRecipients(recipients);
    if (rcptTos.length === 0) {
      setError("Give at least one recipient.");
      return;
    }
    if (!envelopeOnly && !raw.trim()) {
      setError(`${point} sees the message: paste one, or pick a stored one.`);
      return;
    }
    setRunning(true);
    setError(null);
    setRun(null);
    try {
      const body = {
        message: envelopeOnly ? null : raw,
        mail_from: mailFrom.trim(),
        rcpt_tos: rcptTos,
        client_ip: clientIp.trim(),
        helo: helo.trim(),
      };
      setRun(await unwrap(api.POST("/api/v1/admin/hooks/{point}/test", { params: { path: { point } }, body })));
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setRunning(false);
    }
  }

  return (
    <section>
      <p>
        <Link to="/hooks">← Hooks</Link>
      </p>
      <PageTitle text="Test a hook point" />
      <p className="hint">
        Asks the plugins bound at a point now, as the SMTP edge would, and shows each one's verdict and latency. Nothing
        is stored, delivered or counted. post_receive runs after the 250 as a job and cannot be tested here.
      </p>
      {!envelopeOnly && (
        <section aria-labelledby="stored-heading">
          <h2 id="stored-heading">Start from a stored message</h2>
          <MessagePicker onPicked={takePicked} />
          {picked && <p role="status" className="notice">{picked}</p>}
        </section>
      )}
      <form className="hook-test" onSubmit={test} aria-labelledby="test-heading">
        <h2 id="test-heading">The test</h2>
        <div className="field">
          <label htmlFor="test-point">Hook point</label>
          <select id="test-point" value={point} onChange={(e) => setPoint(e.target.value as HookPoint)}>
            {TESTABLE.map((info) => (
              <option key={info.point} value={info.point}>
                {info.point}
              </option>
            ))}
          </select>
          <span className="hint">{pointInfo(point)?.description}</span>
        </div>
        {envelopeOnly ? (
          <p className="muted">{point} comes before the message: its plugins see the envelope only.</p>
        ) : (
          <div className="field">
            <label htmlFor="test-message">Message (RFC 5322: header fields, a blank line, the body)</label>
            <textarea
              id="test-message"
              rows={12}
              value={raw}
              onChange={(e) => setRaw(e.target.value)}
              spellCheck={false}
              placeholder={"From: someone@example.net\nSubject: hello\n\nThe body."}
            />
          </div>
        )}
        <div className="envelope">
          <div className="field">
            <label htmlFor="test-from">Envelope sender (MAIL FROM, empty for &lt;&gt;)</label>
            <input id="test-from" value={mailFrom} onChange={(e) => setMailFrom(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="test-rcpts">Recipients (RCPT TO, comma-separated)</label>
            <input id="test-rcpts" value={recipients} onChange={(e) => setRecipients(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="test-ip">Client IP address</label>
            <input id="test-ip" value={clientIp} onChange={(e) => setClientIp(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="test-helo">HELO name</label>
            <input id="test-helo" value={helo} onChange={(e) => setHelo(e.target.value)} />
          </div>
        </div>
        <div className="actions">
          <button type="submit" className="button" disabled={running}>
            {running ? "Running…" : "Run the test"}
          </button>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
      {running && <p role="status">Asking the plugins…</p>}
      {run && <DryRunResult run={run} />}
    </section>
  );
}
