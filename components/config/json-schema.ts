/**
 * A JSON Schema (draft-07, what editors' YAML language servers read) of a `Pulumi.<stack>.yaml`, generated
 * from the one config schema: the stack files reference it (`# yaml-language-server: $schema=…`), so
 * editors complete keys and flag wrong types, unknown keys, bad enums and patterns as you type. Rules that
 * need code (cross-key checks, addresses, paths) stay with the program's own validation, which has the
 * last word. Secret keys accept `{ secure: … }`, at any depth. Pure and deterministic.
 */
import { stackSchema, PROJECT } from "./stack-schema";
import type { Field } from "./schema";

type Json = Record<string, unknown>;

const SECURE: Json = {
    type: "object",
    description: "A Pulumi secret (pulumi config set --secret …).",
    properties: { secure: { type: "string" } },
    required: ["secure"],
    additionalProperties: false,
};

function fieldSchema(field: Field, secret: boolean): Json {
    const inSecret = secret || field.secret === true;
    const base: Json = { description: field.description };
    if (field.default !== undefined) base.default = field.default;
    let schema: Json;
    switch (field.kind) {
        case "string":
            schema = {
                ...base,
                type: "string",
                ...(field.enum === undefined ? {} : { enum: [...field.enum] }),
                ...(field.pattern === undefined ? {} : { pattern: field.pattern.regex.source }),
                ...((field.nonEmpty ?? true) ? { minLength: 1 } : {}),
            };
            break;
        case "integer":
            schema = {
                ...base,
                type: "integer",
                ...(field.min === undefined ? {} : { minimum: field.min }),
                ...(field.max === undefined ? {} : { maximum: field.max }),
            };
            break;
        case "boolean":
            schema = { ...base, type: "boolean" };
            break;
        case "array":
            schema = {
                ...base,
                type: "array",
                items: fieldSchema(field.items, inSecret),
                ...(field.minItems === undefined ? {} : { minItems: field.minItems }),
            };
            break;
        case "map":
            schema = {
                ...base,
                type: "object",
                additionalProperties: fieldSchema(field.values, inSecret),
                ...(field.keyPattern === undefined ? {} : { propertyNames: { pattern: field.keyPattern.regex.source } }),
            };
            break;
        case "json":
            schema = { ...base, type: "object" };
            break;
        case "object": {
            const required = Object.entries(field.fields)
                .filter(([, f]) => !f.optional && f.default === undefined)
                .map(([k]) => k);
            schema = {
                ...base,
                type: "object",
                properties: Object.fromEntries(Object.entries(field.fields).map(([k, f]) => [k, fieldSchema(f, inSecret)])),
                additionalProperties: false,
                ...(required.length === 0 ? {} : { required }),
            };
            break;
        }
    }
    return inSecret ? { anyOf: [schema, SECURE] } : schema;
}

/** The JSON Schema of a stack file (`Pulumi.<stack>.yaml`) for this project. */
export function stackFileJsonSchema(): Json {
    const fields = stackSchema.fields as Readonly<Record<string, Field>>;
    const keys = Object.keys(fields);
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return {
        $schema: "http://json-schema.org/draft-07/schema#",
        title: `Pulumi stack file of ${PROJECT}`,
        description: "Generated from components/config by npm run docs:config; do not edit.",
        type: "object",
        properties: {
            secretsprovider: { type: "string" },
            encryptionsalt: { type: "string" },
            encryptedkey: { type: "string" },
            environment: {},
            config: {
                type: "object",
                properties: Object.fromEntries(keys.map((k) => [`${PROJECT}:${k}`, fieldSchema(fields[k], false)])),
                // Other namespaces (e.g. kubernetes:) are free; an unknown key of this project is an error.
                patternProperties: { [`^${escape(PROJECT)}:(?!(?:${keys.map(escape).join("|")})$)`]: false },
            },
        },
    };
}

/** The schema file's text (stable key order, trailing newline). */
export function renderStackFileJsonSchema(): string {
    return `${JSON.stringify(stackFileJsonSchema(), null, 2)}\n`;
}
