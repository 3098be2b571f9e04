// A dry run's answer: what would be enforced and replied, then each plugin's call in the
// order they run (verdict, latency, how it went, what it asked for), as the API said it.
import { callEffects, combinedWords, formatLatency, outcomeWords, verdictWords, type DryRun } from "./hookPoints";

export function DryRunResult({ run }: { run: DryRun }) {
  return (
    <section className="dry-run" aria-labelledby="dry-run-heading">
      <h2 id="dry-run-heading">Result at {run.point}</h2>
      <p className={`verdict verdict-${run.verdict}`} data-testid="combined-verdict">
        {combinedWords(run)}
      </p>
      {run.calls.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">Each plugin's call, in the order they run</caption>
          <thead>
            <tr>
              <th scope="col">Plugin</th>
              <th scope="col">Mode</th>
              <th scope="col">Verdict</th>
              <th scope="col">Latency</th>
              <th scope="col">How it went</th>
              <th scope="col">What it asked for</th>
            </tr>
          </thead>
          <tbody>
            {run.calls.map((call, index) => {
              const effects = callEffects(call);
              return (
                <tr key={index} className={`call-${call.outcome}`}>
                  <th scope="row">{call.plugin}</th>
                  <td>{call.mode === "shadow" ? "shadow (not applied)" : "enforce"}</td>
                  <td>
                    {verdictWords(call.verdict)}
                  </td>
                  <td>{formatLatency(call.latency_ms)}</td>
                  <td>{outcomeWords(call)}</td>
                  <td>
                    {effects.length === 0 ? (
                      <span className="muted">nothing</span>
                    ) : (
                      <ul className="effects">
                        {effects.map((effect, i) => (
                          <li key={i}>{effect}</li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
