// A message's attachments, each with a download button; what a download does is the
// caller's (the API wants the bearer token in a header, so a plain link cannot work).
import type { Schemas } from "../api/client";
import { formatBytes } from "../format/bytes";

interface AttachmentsProps {
  attachments: Schemas["AttachmentSummary"][];
  /** The index being downloaded, if any (its button waits). */
  downloading: number | null;
  onDownload: (index: number) => void;
}

export function Attachments({ attachments, downloading, onDownload }: AttachmentsProps) {
  return (
    <ul className="attachments">
      {attachments.map((a, i) => (
        <li key={i}>
          <button type="button" className="button secondary" disabled={downloading === i} onClick={() => onDownload(i)}>
            {downloading === i ? `Downloading ${a.filename}…` : `Download ${a.filename}`}
          </button>{" "}
          <span className="muted">
            {a.content_type}, {formatBytes(a.size)}
          </span>
        </li>
      ))}
    </ul>
  );
}
