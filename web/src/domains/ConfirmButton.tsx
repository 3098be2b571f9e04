// A destructive action asked twice: the button shows a question with "yes" and "cancel"
// in its place; the focus goes to the question's first button and back to the action's
// button when cancelled.
import { useEffect, useRef, useState } from "react";

interface ConfirmButtonProps {
  /** The button's words ("Delete"). */
  label: string;
  /** Its accessible name when the words alone are ambiguous ("Delete team@a.example"). */
  name?: string;
  /** What is asked ("Delete the alias team@a.example? Mail to it is refused then."). */
  question: string;
  /** The confirming button's words ("Yes, delete"). */
  confirm: string;
  /** The action; it reports its own failure (the question closes either way). */
  onConfirm: () => Promise<void>;
  disabled?: boolean;
}

export function ConfirmButton({ label, name, question, confirm, onConfirm, disabled }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  const action = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);

  useEffect(() => {
    if (asking) yes.current?.focus();
    else if (returnFocus.current) {
      returnFocus.current = false;
      action.current?.focus();
    }
  }, [asking]);

  async function go() {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  }

  if (!asking) {
    return (
      <button
        ref={action}
        type="button"
        className="button secondary danger"
        aria-label={name}
        disabled={disabled}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={name ?? label}>
      <span>{question}</span>
      <button ref={yes} type="button" className="button danger" disabled={busy} onClick={go}>
        {busy ? "Working…" : confirm}
      </button>
      <button
        type="button"
        className="button secondary"
        disabled={busy}
        onClick={() => {
          returnFocus.current = true;
          setAsking(false);
        }}
      >
        Cancel
      </button>
    </span>
  );
}
