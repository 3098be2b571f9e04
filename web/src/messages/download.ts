// Hands the browser bytes fetched with the bearer token as a file download. The blob is
// typed application/octet-stream whatever the attachment says: a blob: URL has the app's
// origin, so a text/html one opened in a tab would run as the app.

/** Saves `content` as `filename` through a temporary blob: link. */
export function saveAs(content: Blob, filename: string): void {
  const url = URL.createObjectURL(new Blob([content], { type: "application/octet-stream" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = downloadName(filename);
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its bytes once it started; the URL is let go a little later.
  window.setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** A file name the browser may save under: no path, no control characters. */
export function downloadName(filename: string): string {
  const base = filename.split(/[/\\]/).pop() ?? "";
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return cleaned || "attachment";
}
