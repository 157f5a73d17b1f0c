/**
 * A JSON Schema (draft-07, what editors' YAML language servers read) of a `Pulumi.<stack>.yaml`, generated
 * from the one config schema by zod (`z.toJSONSchema`): the stack files reference it (`# yaml-language-server:
 * $schema=…`), so editors complete keys and flag wrong types, unknown keys, bad enums and patterns as you
 * type. Rules that need code (cross-key checks, addresses, paths) stay with the program's own validation,
 * which has the last word. Secret values also accept `{ secure: … }`, at any depth. Pure and deterministic.
 */
import { z } from "zod";
import { stackSchema, PROJECT } from "./stack-schema";
import { fieldInfo, type FieldInfo, maybeFieldInfo } from "./schema";

type Json = Record<string, unknown>;

const SECURE: Json = {
    type: "object",
    description: "A Pulumi secret (pulumi config set --secret …).",
    properties: { secure: { type: "string" } },
    required: ["secure"],
    additionalProperties: false,
};

/**
 * What zod cannot read off a field's checks (refinements), from its info; a secret may be `{ secure: … }`
 * (said once, where the value's own schema is, not again on the optional or default around it).
 */
function annotate(info: FieldInfo, schema: Json, wrapper: boolean): void {
    schema.description = info.description;
    if (info.kind === "integer") {
        schema.type = "integer";
        if (info.min !== undefined) schema.minimum = info.min;
        if (info.max !== undefined) schema.maximum = info.max;
    }
    if (info.kind === "json") schema.type = "object";
    if (info.kind === "string") {
        if (info.enum !== undefined) schema.enum = [...info.enum];
        if (info.nonEmpty === true) schema.minLength = 1;
    }
    if (info.kind === "array" && info.min !== undefined) schema.minItems = info.min;
    if (info.secret && !wrapper) {
        const plain = { ...schema };
        for (const k of Object.keys(schema)) delete schema[k];
        schema.anyOf = [plain, SECURE];
    }
}

/** The JSON Schema of one top-level key's value. */
function keySchema(field: z.ZodType): Json {
    const schema = z.toJSONSchema(field, {
        target: "draft-7",
        io: "input",
        unrepresentable: "any",
        reused: "inline",
        override: (ctx) => {
            const schema = ctx.zodSchema as unknown as z.ZodType;
            const info = maybeFieldInfo(schema);
            const wrapper = ["optional", "prefault", "default"].includes(schema.def.type);
            if (info !== undefined) annotate(info, ctx.jsonSchema, wrapper);
        },
    }) as Json;
    delete schema.$schema;
    return schema;
}

/** The JSON Schema of a stack file (`Pulumi.<stack>.yaml`) for this project. */
export function stackFileJsonSchema(): Json {
    const fields = fieldInfo(stackSchema).fields ?? {};
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
                properties: Object.fromEntries(keys.map((k) => [`${PROJECT}:${k}`, keySchema(fields[k])])),
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
