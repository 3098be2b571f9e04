// One traced message as a timeline: an ordered list of its steps, each with its time, what
// happened, who did it and the SMTP reply when there was one; refusals stand out.
import type { TracedMessage } from "./trace";

export function Timeline({ message, index }: { message: TracedMessage; index: number }) {
  const heading = `trace-${index}`;
  return (
    <section className="trace" aria-labelledby={heading}>
      <h2 id={heading}>
        Message{message.queueId && <code className="id"> {message.queueId}</code>}
      </h2>
      {message.messageId && <p className="muted">Message-ID {message.messageId}</p>}
      {!message.accepted && <p className="muted">Not accepted for the recipients shown: refused before the 250.</p>}
      <ol className="timeline">
        {message.steps.map((step) => (
          <li key={step.key} className={`step tone-${step.tone}`}>
            <time dateTime={step.at}>{new Date(step.at).toLocaleString()}</time>
            <div>
              <h3 className="step-title">{step.title}</h3>
              <span className="step-actor"> by {step.actor}</span>
              <p className="step-text">{step.text}</p>
              {step.recipient && step.title !== "Received" && <p className="muted">Recipient {step.recipient}</p>}
              {step.retryAt && <p className="muted">Next try {new Date(step.retryAt).toLocaleString()}</p>}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}
