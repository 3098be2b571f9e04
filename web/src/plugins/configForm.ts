// A form from a plugin's config schema (the JSON Schema in its manifest): one field per
// property, typed (text, number, whole number, yes/no, a choice for an enum, one value per
// line for a list of plain values), nested objects as groups, and whatever a form cannot
// say simply (lists of objects, oneOf, ...) as JSON text. The API checks the result
// against the schema again and says what does not fit; this only saves a round trip.

type Schema = Record<string, unknown>;

interface FieldBase {
  /** Where its value sits in the configuration: ["match", "subject"]. */
  path: string[];
  /** The control's id and the form's key for its value. */
  key: string;
  label: string;
  required: boolean;
  hint: string;
}

export type Field =
  | (FieldBase & { kind: "text"; default?: string; minLength?: number; maxLength?: number; pattern?: string })
  | (FieldBase & { kind: "number" | "integer"; default?: number; minimum?: number; maximum?: number })
  | (FieldBase & { kind: "boolean"; default?: boolean })
  | (FieldBase & { kind: "select"; options: string[]; default?: string })
  | (FieldBase & { kind: "lines"; itemKind: "text" | "number" | "integer"; default?: unknown[] })
  | (FieldBase & { kind: "json"; default?: unknown })
  | (FieldBase & { kind: "group"; fields: Field[] });

/** The form's values by field key: text for every control but the yes/no ones. */
export type FormValues = Record<string, string | boolean>;

const SCALAR = new Set(["string", "number", "integer", "boolean"]);

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "min_confidence" → "Min confidence". */
export function labelFor(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function typeOf(schema: Schema): string | undefined {
  const type = schema.type;
  if (typeof type === "string") return type;
  // ["string", "null"]: the one type besides null.
  if (Array.isArray(type)) {
    const named = type.filter((t): t is string => typeof t === "string" && t !== "null");
    return named.length === 1 ? named[0] : undefined;
  }
  return undefined;
}

function hintOf(schema: Schema): string {
  const parts: string[] = [];
  for (const key of ["title", "description"] as const) {
    const said = schema[key];
    if (typeof said === "string" && said.trim()) parts.push(said.trim());
  }
  const bounds = (low: unknown, high: unknown, unit: string) => {
    if (typeof low === "number" && typeof high === "number") parts.push(`${low} to ${high}${unit}`);
    else if (typeof low === "number") parts.push(`at least ${low}${unit}`);
    else if (typeof high === "number") parts.push(`at most ${high}${unit}`);
  };
  bounds(schema.minimum, schema.maximum, "");
  bounds(schema.minLength, schema.maxLength, " characters");
  bounds(schema.minItems, schema.maxItems, " items");
  if (typeof schema.pattern === "string") parts.push(`matching ${schema.pattern}`);
  return parts.join("; ");
}

function num(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** The fields of an object schema's properties, in the schema's order. */
export function fieldsOf(schema: unknown, parent: string[] = []): Field[] {
  if (!isSchema(schema) || !isSchema(schema.properties)) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : []);
  return Object.entries(schema.properties).map(([name, raw]) => {
    const property: Schema = isSchema(raw) ? raw : {};
    const path = [...parent, name];
    const base = { path, key: path.join("."), label: labelFor(name), required: required.has(name), hint: hintOf(property) };
    return fieldFor(property, base);
  });
}

function fieldFor(property: Schema, base: FieldBase): Field {
  const type = typeOf(property);
  const fallback = property.default;
  if (Array.isArray(property.enum) && property.enum.every((o) => typeof o === "string")) {
    return { ...base, kind: "select", options: property.enum as string[], default: typeof fallback === "string" ? fallback : undefined };
  }
  if (type === "object" && isSchema(property.properties) && !("oneOf" in property) && !("anyOf" in property)) {
    return { ...base, kind: "group", fields: fieldsOf(property, base.path) };
  }
  if (type === "string") {
    return {
      ...base,
      kind: "text",
      default: typeof fallback === "string" ? fallback : undefined,
      minLength: num(property.minLength),
      maxLength: num(property.maxLength),
      pattern: typeof property.pattern === "string" ? property.pattern : undefined,
    };
  }
  if (type === "number" || type === "integer") {
    return { ...base, kind: type, default: num(fallback), minimum: num(property.minimum), maximum: num(property.maximum) };
  }
  if (type === "boolean") {
    return { ...base, kind: "boolean", default: typeof fallback === "boolean" ? fallback : undefined };
  }
  const items = isSchema(property.items) ? property.items : null;
  const itemType = items ? typeOf(items) : undefined;
  if (type === "array" && items && itemType && SCALAR.has(itemType) && itemType !== "boolean" && !("enum" in items)) {
    const itemKind = itemType === "string" ? "text" : (itemType as "number" | "integer");
    const hint = [base.hint, "one per line", hintOf(items) && `each ${hintOf(items)}`].filter(Boolean).join("; ");
    return { ...base, hint, kind: "lines", itemKind, default: Array.isArray(fallback) ? fallback : undefined };
  }
  return { ...base, hint: [base.hint, "as JSON"].filter(Boolean).join("; "), kind: "json", default: fallback };
}

function at(config: unknown, path: readonly string[]): unknown {
  let here: unknown = config;
  for (const step of path) {
    if (!isSchema(here)) return undefined;
    here = here[step];
  }
  return here;
}

/** The form's values for a configuration: what it holds, else the schema's default. */
export function initialValues(fields: readonly Field[], config: unknown): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    if (field.kind === "group") {
      Object.assign(values, initialValues(field.fields, config));
      continue;
    }
    const held = at(config, field.path);
    const value = held === undefined ? field.default : held;
    if (field.kind === "boolean") values[field.key] = value === true;
    else if (field.kind === "lines") values[field.key] = Array.isArray(value) ? value.map(String).join("\n") : "";
    else if (field.kind === "json") values[field.key] = value === undefined ? "" : JSON.stringify(value, null, 2);
    else values[field.key] = value === undefined || value === null ? "" : String(value);
  }
  return values;
}

export interface Built {
  config: Record<string, unknown>;
  /** What the form cannot turn into a configuration, one sentence each, by label. */
  problems: string[];
}

/** The configuration the form's values stand for. An empty optional field is left out
 * (the plugin's own default applies), as is a group left wholly empty. A yes/no field is
 * always given: its box says yes or no. */
export function configFrom(fields: readonly Field[], values: FormValues, where = ""): Built {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const field of fields) {
    const name = where ? `${where} › ${field.label}` : field.label;
    const last = field.path[field.path.length - 1] as string;
    if (field.kind === "group") {
      const inner = configFrom(field.fields, values, name);
      problems.push(...inner.problems);
      if (Object.keys(inner.config).length > 0 || field.required) config[last] = inner.config;
      continue;
    }
    const raw = values[field.key];
    if (field.kind === "boolean") {
      config[last] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") {
      if (field.required) problems.push(`${name}: required.`);
      continue;
    }
    const parsed = parse(field, text);
    if (parsed instanceof Unparsed) problems.push(`${name}: ${parsed.problem}`);
    else config[last] = parsed;
  }
  return { config, problems };
}

class Unparsed {
  constructor(readonly problem: string) {}
}

function parse(field: Field, text: string): unknown {
  switch (field.kind) {
    case "number":
    case "integer":
      return number(text, field.kind);
    case "lines": {
      const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
      if (field.itemKind === "text") return lines;
      const numbers = lines.map((line) => number(line, field.itemKind as "number" | "integer"));
      return numbers.find((n) => n instanceof Unparsed) ?? numbers;
    }
    case "json":
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return new Unparsed("not valid JSON.");
      }
    default:
      return text;
  }
}

function number(text: string, kind: "number" | "integer"): number | Unparsed {
  const value = Number(text);
  if (!Number.isFinite(value)) return new Unparsed(`“${text}” is not a number.`);
  if (kind === "integer" && !Number.isInteger(value)) return new Unparsed(`“${text}” is not a whole number.`);
  return value;
}
