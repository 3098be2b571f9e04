import { describe, expect, it } from "vitest";
import { configFrom, fieldsOf, initialValues, labelFor, type Field } from "./configForm";

// The ticket-webhook and greylist schemas as their manifests declare them, and one with
// every kind the form knows.
const TICKET = {
  type: "object",
  additionalProperties: false,
  properties: {
    match: {
      type: "object",
      additionalProperties: false,
      properties: {
        recipient: { type: "string", minLength: 1, maxLength: 1000 },
        subject: { type: "string", minLength: 1, maxLength: 1000 },
      },
    },
  },
};

const EVERY_KIND = {
  type: "object",
  required: ["zones", "mode"],
  properties: {
    mode: { enum: ["tag", "reject"], default: "tag" },
    min_confidence: { type: "number", minimum: 0, maximum: 1, default: 0.5 },
    min_letters: { type: "integer", minimum: 1 },
    enabled_here: { type: "boolean", default: true },
    zones: { type: "array", items: { type: "string", maxLength: 253 } },
    ports: { type: "array", items: { type: "integer" } },
    rules: { type: "array", items: { type: "object", properties: { header: { type: "string" } } } },
    label: { type: ["string", "null"], description: "Shown to people." },
  },
};

function kinds(fields: Field[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f.key, f.kind]));
}

describe("a form from a config schema", () => {
  it("gives each property a typed field, enums a choice, nested objects a group", () => {
    const fields = fieldsOf(EVERY_KIND);
    expect(kinds(fields)).toEqual({
      mode: "select",
      min_confidence: "number",
      min_letters: "integer",
      enabled_here: "boolean",
      zones: "lines",
      ports: "lines",
      rules: "json",
      label: "text",
    });
    const mode = fields[0];
    expect(mode).toMatchObject({ label: "Mode", required: true, options: ["tag", "reject"], default: "tag" });
    expect(fields[1]).toMatchObject({ label: "Min confidence", required: false, hint: "0 to 1", default: 0.5 });
    expect(fields[2]?.hint).toBe("at least 1");
    expect(fields[4]?.hint).toBe("one per line; each at most 253 characters");
    expect(fields[7]?.hint).toBe("Shown to people.");
    const [match] = fieldsOf(TICKET);
    expect(match?.kind).toBe("group");
    expect(match?.kind === "group" && match.fields.map((f) => [f.key, f.label, f.hint])).toEqual([
      ["match.recipient", "Recipient", "1 to 1000 characters"],
      ["match.subject", "Subject", "1 to 1000 characters"],
    ]);
  });

  it("has no fields for a schema without properties", () => {
    expect(fieldsOf({ type: "object" })).toEqual([]);
    expect(fieldsOf(null)).toEqual([]);
  });

  it("fills the form from the configuration, else the defaults", () => {
    const fields = fieldsOf(EVERY_KIND);
    expect(initialValues(fields, { zones: ["a.example", "b.example"], rules: [{ header: "X" }] })).toEqual({
      mode: "tag",
      min_confidence: "0.5",
      min_letters: "",
      enabled_here: true,
      zones: "a.example\nb.example",
      ports: "",
      rules: '[\n  {\n    "header": "X"\n  }\n]',
      label: "",
    });
    expect(initialValues(fieldsOf(TICKET), { match: { subject: "urgent" } })).toEqual({
      "match.recipient": "",
      "match.subject": "urgent",
    });
  });

  it("turns the values back into the configuration, leaving out what is empty", () => {
    const fields = fieldsOf(EVERY_KIND);
    const values = {
      ...initialValues(fields, {}),
      min_letters: " 12 ",
      zones: "a.example\n\n b.example \n",
      ports: "25\n587",
      enabled_here: false,
    };
    expect(configFrom(fields, values)).toEqual({
      config: {
        mode: "tag",
        min_confidence: 0.5,
        min_letters: 12,
        enabled_here: false,
        zones: ["a.example", "b.example"],
        ports: [25, 587],
      },
      problems: [],
    });
    const ticket = fieldsOf(TICKET);
    expect(configFrom(ticket, { "match.recipient": "", "match.subject": "[ticket]" }).config).toEqual({
      match: { subject: "[ticket]" },
    });
    expect(configFrom(ticket, { "match.recipient": "", "match.subject": "" }).config).toEqual({});
  });

  it("says what it cannot turn into a configuration, by label", () => {
    const fields = fieldsOf(EVERY_KIND);
    const values = { ...initialValues(fields, {}), mode: "", min_letters: "1.5", ports: "25\nsmtp", rules: "[{" };
    expect(configFrom(fields, values).problems).toEqual([
      "Mode: required.",
      "Min letters: “1.5” is not a whole number.",
      "Zones: required.",
      "Ports: “smtp” is not a number.",
      "Rules: not valid JSON.",
    ]);
  });

  it("makes labels of property names", () => {
    expect(labelFor("max_sentences")).toBe("Max sentences");
    expect(labelFor("tag-prefix")).toBe("Tag prefix");
  });
});
