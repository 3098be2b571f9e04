// How the UI writes a size (a message, an attachment, a mailbox's use): binary units,
// one decimal, as the lists show it.

/** A size as the lists show it (B, KiB, MiB). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
