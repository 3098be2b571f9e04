// The outbound recipients as a table: where each goes, how often it was tried, when next,
// the last reply; its attempts on demand, and the actions a waiting row allows.
import { Fragment, useState } from "react";
import { Attempts } from "./Attempts";
import { ACTIONS, canAct, dueText, STATE_LABELS, type OutboundRow, type RowAction } from "./queue";

interface OutboundTableProps {
  rows: OutboundRow[];
  onAction: (action: RowAction, row: OutboundRow) => void;
}

const ROW_ACTIONS: readonly RowAction[] = ["retry", "bounce", "delete"];

export function OutboundTable({ rows, onAction }: OutboundTableProps) {
  const [opened, setOpened] = useState<number | null>(null);
  const now = new Date();
  return (
    <table className="list outbound">
      <caption className="visually-hidden">Outbound recipients, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Recipient</th>
          <th scope="col">Destination</th>
          <th scope="col">State</th>
          <th scope="col">Attempts</th>
          <th scope="col">Next attempt</th>
          <th scope="col">Last reply</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const open = opened === row.id;
          return (
            <Fragment key={row.id}>
              <tr>
                <th scope="row">
                  {row.recipient}
                  <div className="muted">from {row.mail_from || "<>"}</div>
                </th>
                <td>{row.destination}</td>
                <td>
                  <span className={`state state-${row.state}`}>{STATE_LABELS[row.state]}</span>
                </td>
                <td>{row.attempts}</td>
                <td title={new Date(row.next_attempt_at).toLocaleString()}>{dueText(row, now)}</td>
                <td className="reply">{row.last_reply ?? "—"}</td>
                <td>
                  <div className="row-actions">
                    <button
                      type="button"
                      className="button secondary"
                      aria-expanded={open}
                      aria-label={`Attempts for ${row.recipient}`}
                      onClick={() => setOpened(open ? null : row.id)}
                    >
                      Attempts
                    </button>
                    {canAct(row.state) &&
                      ROW_ACTIONS.map((action) => (
                        <button
                          key={action}
                          type="button"
                          className={ACTIONS[action].danger ? "button secondary danger" : "button secondary"}
                          aria-label={`${ACTIONS[action].label}: ${row.recipient}`}
                          onClick={() => onAction(action, row)}
                        >
                          {ACTIONS[action].label}
                        </button>
                      ))}
                  </div>
                </td>
              </tr>
              {open && (
                <tr className="details-row">
                  <td colSpan={7}>
                    <Attempts key={row.attempts} messageId={row.message_id} recipient={row.recipient} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
