// A destructive action asked twice: the first button shows the question and the buttons
// to go ahead or not, with the focus on the safe one.
import { useEffect, useRef, useState } from "react";

interface ConfirmButtonProps {
  label: string;
  question: string;
  confirmLabel: string;
  disabled?: boolean;
  onConfirm: () => void;
}

export function ConfirmButton({ label, question, confirmLabel, disabled, onConfirm }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) cancel.current?.focus();
  }, [asking]);

  if (!asking) {
    return (
      <button type="button" className="button danger" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-labelledby="confirm-question">
      <p id="confirm-question">{question}</p>
      <button
        type="button"
        className="button danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button ref={cancel} type="button" className="button secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </div>
  );
}
