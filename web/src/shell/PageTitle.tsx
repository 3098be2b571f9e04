// A page's heading: names the tab and takes the focus when the page opens, so a screen
// reader announces where a navigation landed and Tab continues from there.
import { useEffect, useRef, type ReactNode } from "react";

export function PageTitle({ children, text }: { children?: ReactNode; text: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${text} · MaiRust`;
    heading.current?.focus();
  }, [text]);
  return (
    <h1 ref={heading} tabIndex={-1}>
      {children ?? text}
    </h1>
  );
}
