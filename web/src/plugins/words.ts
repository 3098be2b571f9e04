// What a plugin's manifest declares, in plain words: the data scopes it is given, the
// permissions deciding what of its answer counts, its transport and its hook points. The
// keys are the API's closed vocabularies (DataScope, HookPermission, TransportKind,
// HookPoint); tests/plugins/test_manifest_words.py fails when a manifest in plugins/ or
// the Python enums use a word these tables do not know.

export const SCOPE_WORDS: Readonly<Record<string, string>> = {
  envelope:
    "Sees the envelope: the sender and recipient addresses, the connecting server's address and greeting, and who signed in to send it.",
  headers: "Reads the message's header fields (From, To, Subject, Date and the rest).",
  "body-preview": "Reads the beginning of the message's text (the first few kilobytes).",
  "full-body": "Reads the whole message: every header, the full text and every attachment.",
  attachments: "Reads the message's attachments: their names, types and contents.",
};

export const PERMISSION_WORDS: Readonly<Record<string, string>> = {
  accept: "May accept a message outright: later plugins at the same point are not asked.",
  reject: "May refuse a message for good (a 5xx reply to the sender).",
  tempfail: "May refuse a message for now (a 4xx reply: the sending server tries again later).",
  discard: "May drop a message after accepting it: nothing of it is kept.",
  quarantine: "May hold a message in quarantine, away from the inbox, until an administrator releases or deletes it.",
  tag: "May tag messages.",
  folder: "May file messages into a folder.",
  headers: "May add, change or delete header fields.",
  envelope: "May change the sender and add or remove recipients.",
  state: "May keep small, expiring records of its own in the platform's database.",
  annotate: "May keep notes with a message (shown when the message is read).",
};

export const TRANSPORT_WORDS: Readonly<Record<string, string>> = {
  serve: "Runs inside the platform, as its own autoscaled Ray Serve deployment.",
  http: "An outside service the platform calls over HTTP.",
  grpc: "An outside service the platform calls over gRPC.",
  stdin: "A program the platform starts and talks to over its standard input and output.",
  webhook: "Signed HTTP posts to an outside address, sent later through the webhook outbox; it gives no verdict.",
};

export const POINT_WORDS: Readonly<Record<string, string>> = {
  connect: "when a client connects",
  mail_from: "at MAIL FROM (the sender is named)",
  rcpt_to: "at RCPT TO (each recipient is named)",
  pre_receive: "at the end of DATA, before the message is accepted",
  post_receive: "after the message is accepted (in the background)",
  pre_delivery: "before delivery to a mailbox or a forward",
  pre_send: "before outgoing mail is sent",
};

/** A sentence for each word, unknown words said as such (never silently dropped). */
function sentences(table: Readonly<Record<string, string>>, words: readonly string[], kind: string): string[] {
  return words.map((word) => table[word] ?? `${kind} “${word}” (this page has no words for it).`);
}

export function scopeSentences(scopes: readonly string[]): string[] {
  return sentences(SCOPE_WORDS, scopes, "Scope");
}

export function permissionSentences(permissions: readonly string[]): string[] {
  return sentences(PERMISSION_WORDS, permissions, "Permission");
}

export function transportWords(kind: string): string {
  return TRANSPORT_WORDS[kind] ?? (kind ? `Transport “${kind}”.` : "Not known until installed.");
}

export function pointWords(points: readonly string[]): string {
  return points.map((point) => POINT_WORDS[point] ?? point).join("; ");
}
