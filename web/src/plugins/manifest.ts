// The parts of an installed plugin's manifest (the API gives it whole, untyped) that its
// page shows: the config schema, the changelog and the secrets it names.

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function configSchemaOf(manifest: unknown): Record<string, unknown> {
  return record(record(manifest).config_schema);
}

export function changelogOf(manifest: unknown): string {
  const changelog = record(record(manifest).plugin).changelog;
  return typeof changelog === "string" ? changelog : "";
}

export function secretsOf(manifest: unknown): string[] {
  const secrets = record(manifest).secrets;
  return Array.isArray(secrets) ? secrets.filter((s): s is string => typeof s === "string") : [];
}
