/**
 * The stack config's field builders, over zod. Each builder (`str`, `int`, `bool`, `arr`, `map`, `obj`,
 * `oneOf`, `json`, `optional`) returns a zod schema whose every error message names what is wrong and
 * what would be right, with the field's description and options recorded beside it ({@link fieldInfo}) for
 * the config reference and the JSON Schema. zod parses, applies defaults (`prefault`: a default is parsed
 * like a given value), narrows unions and infers the types; {@link parseWith} turns its issues into
 * `ConfigIssue`s keyed by path (`hosts[1].address`). A secret's value never appears in a message. Pure.
 */
import { z } from "zod";

/** One problem found in config: the key path (`hosts[1].address`) and what is wrong and what would be right. */
export interface ConfigIssue {
    readonly path: string;
    readonly message: string;
}

/** Formats an issue as `path: message`. */
export function formatIssue(issue: ConfigIssue): string {
    return `${issue.path}: ${issue.message}`;
}

/** Length bounds by class of value, in characters. */
export const MAX_LENGTH = {
    /** Map keys (registry hosts, build-arg names, file paths). */
    key: 253,
    /** A one-line value: names, URLs, paths, versions. */
    line: 4096,
    /** One argument of a command line: under Linux's 128 KiB per-argument limit with room for its option. */
    arg: 32 * 1024,
    /** Multi-line content: inline files, PEM blocks, a kubeconfig. */
    text: 1024 * 1024,
} as const;

/** C0 control characters and DEL; the multi-line form spares tab, newline and carriage return. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_MULTILINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Where the first control character of `value` is, or undefined: `U+0000 at character 3`. */
export function controlCharacter(value: string, multiline = false): string | undefined {
    const m = (multiline ? CONTROL_MULTILINE : CONTROL).exec(value);
    if (m === null) return undefined;
    return `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")} at character ${m.index + 1}`;
}

/** A value quoted for an error message, cut to 60 characters (a message never carries a 100 kB value). */
export function quoteValue(value: string): string {
    return value.length <= 60 ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, 60))}… (${value.length} characters)`;
}

/** Keys that would change an object's prototype instead of being a key: refused in every map. */
const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__"]);

/** A pattern with the human description used in its error. Patterns run in linear time (test/config/patterns.test.ts). */
export interface Pattern {
    readonly regex: RegExp;
    readonly expected: string;
}

export type FieldKind = "string" | "integer" | "boolean" | "array" | "object" | "map" | "json";

/** What the reference, the JSON Schema and the tests read of a field, beside its zod schema. */
export interface FieldInfo {
    readonly kind: FieldKind;
    /** One line for the config reference. */
    readonly description: string;
    /** Value used when the key is absent (or null). */
    readonly default?: unknown;
    /** An absent key parses to `undefined`. */
    readonly optional: boolean;
    /** The value must be stored as a Pulumi secret (`pulumi config set --secret`). */
    readonly secret: boolean;
    readonly enum?: readonly string[];
    readonly pattern?: Pattern;
    readonly nonEmpty?: boolean;
    /** Strings: the extra rule (what is wrong, or undefined). */
    readonly check?: (value: string) => string | undefined;
    readonly min?: number;
    readonly max?: number;
    /** Objects: the fields by key (for a union, every variant's, the first variant's first). */
    readonly fields?: Readonly<Record<string, Field>>;
    /** Unions: the discriminating key and each variant by its value. */
    readonly variants?: { readonly key: string; readonly by: Readonly<Record<string, Field>> };
    readonly items?: Field;
    readonly values?: Field;
    readonly keyPattern?: Pattern;
}

/** A config field: a zod schema with its {@link FieldInfo}. */
export type Field<T = unknown> = z.ZodType<T>;

interface Registered {
    readonly info: FieldInfo;
    /** The same field with its values' messages as a secret's (nothing of the value shown). */
    readonly asSecret: () => Field;
}
const REGISTRY = new WeakMap<Field, Registered>();

function register<F extends Field>(schema: F, info: FieldInfo, asSecret: () => Field): F {
    REGISTRY.set(schema, { info, asSecret });
    return schema;
}

/** What a field is; every field comes from a builder here. */
export function fieldInfo(field: Field): FieldInfo {
    const r = REGISTRY.get(field);
    if (r === undefined) throw new Error("fieldInfo: not a config field (build it with str, int, obj, …)");
    return r.info;
}

/** A schema's info when it is a config field (zod's inner schemas are not). */
export function maybeFieldInfo(schema: z.ZodType): FieldInfo | undefined {
    return REGISTRY.get(schema)?.info;
}
const secretOf = (field: Field): Field => REGISTRY.get(field)?.asSecret() ?? field;

/** What a wrong value is, for a message; a secret's value is never shown, only its kind. */
function describe(value: unknown, secret: boolean): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    if (secret) return typeof value === "string" ? "a string" : `a ${typeof value}`;
    if (typeof value === "string") return `the string ${quoteValue(value)}`;
    const text = JSON.stringify(value) ?? typeof value;
    return `${typeof value} ${text.length <= 60 ? text : `${text.slice(0, 60)}…`}`;
}

function lowerFirst(s: string): string {
    // "Unique name…" → "unique name…", but "IP address…" stays.
    return /^[A-Z][a-z]/.test(s) ? s[0].toLowerCase() + s.slice(1) : s;
}

/** The message of a wrong type: "is required: …" when absent, else what was expected and what came. */
function typeError(description: string, expected: string, secret: boolean, requiredMessage?: string) {
    return (iss: { input?: unknown }) =>
        iss.input === undefined
            ? (requiredMessage ?? `is required: ${lowerFirst(description)}`)
            : `expected ${expected}, got ${describe(iss.input, secret)}`;
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const tmp = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = tmp;
        }
    }
    return row[b.length];
}

/** The known key closest to `key`, if it is close enough to be a likely typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of known) {
        const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
        if (d < bestDistance) {
            best = candidate;
            bestDistance = d;
        }
    }
    return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Message for an unknown key, listing the known ones and suggesting the likely one. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
    const guess = key.length > 64 ? undefined : closestKey(key, known);
    const hint = guess === undefined ? "" : `did you mean "${guess}"? `;
    return `unknown key; ${hint}known keys: ${[...known].sort().join(", ")}`;
}

// ---- builders ------------------------------------------------------------------------------

interface CommonOpts<T> {
    readonly description: string;
    /** Used when the key is absent (or null), parsed like a given value. */
    readonly default?: T;
    readonly secret?: boolean;
    /** Extra rule; returns what is wrong and what would be right, or undefined. */
    readonly check?: (value: T) => string | undefined;
    /** The message when the key is absent and required. @default "is required: <description>" */
    readonly requiredMessage?: string;
}

/** Applies a default (absent or null key → the default, parsed like a given value). */
function withDefault<T>(schema: Field<T>, value: unknown): Field<T> {
    return value === undefined ? schema : schema.prefault(() => structuredClone(value));
}

function checked<T>(schema: z.ZodType<T>, check: ((v: T) => string | undefined) | undefined): z.ZodType<T> {
    return check === undefined
        ? schema
        : schema.refine((v) => check(v) === undefined, { abort: true, error: (iss) => check(iss.input as T) ?? "" });
}

/**
 * A field: `make(secret)` builds its zod schema (and what its info adds, e.g. the rebuilt children of a
 * secret container), then its `check` and default are applied and its info registered. Rebuilt with
 * `secret` when it sits under a secret (its messages then show nothing of the value).
 */
function field<T>(
    base: Pick<FieldInfo, "kind"> & Partial<FieldInfo>,
    o: CommonOpts<T>,
    make: (secret: boolean) => z.ZodType<T> | [z.ZodType<T>, Partial<FieldInfo>],
): Field<T> {
    const build = (secret: boolean): Field<T> => {
        const made = make(secret);
        const [schema, more] = Array.isArray(made) ? made : [made, {}];
        const info: FieldInfo = { description: o.description, default: o.default, optional: false, ...base, ...more, secret };
        return register(withDefault(checked(schema, o.check), o.default), info, () => build(true));
    };
    return build(o.secret === true);
}

interface StrOpts<E extends readonly string[]> extends CommonOpts<string> {
    readonly enum?: E;
    readonly pattern?: Pattern;
    /** Reject the empty (or all-blank) string. @default true */
    readonly nonEmpty?: boolean;
    /** The value may span lines: tab, newline and carriage return are allowed. Other control characters never. @default false */
    readonly multiline?: boolean;
    /** Longest accepted value, in characters. @default 1 MiB when multiline, else {@link MAX_LENGTH.line} */
    readonly maxLength?: number;
}

/**
 * A string. Checked in order, the first failure reported: type, length, control characters, enum, empty,
 * pattern, `check`.
 */
export function str<const E extends readonly string[] = readonly string[]>(
    o: StrOpts<E>,
): Field<E extends readonly [string, ...string[]] ? E[number] : string> {
    const base = {
        kind: "string" as const,
        nonEmpty: o.nonEmpty ?? true,
        ...(o.enum === undefined ? {} : { enum: o.enum }),
        ...(o.pattern === undefined ? {} : { pattern: o.pattern }),
        ...(o.check === undefined ? {} : { check: o.check }),
    };
    return field(base, o, (secret) => {
        const show = (v: unknown) => (secret ? "something else" : quoteValue(String(v)));
        const multiline = o.multiline === true;
        const maxLength = o.maxLength ?? (multiline ? MAX_LENGTH.text : MAX_LENGTH.line);
        const allowed = multiline ? "only tab, newline and carriage return may appear" : "write it on one line";
        let s = z
            .string({ error: typeError(o.description, "a string", secret, o.requiredMessage) })
            .max(maxLength, {
                abort: true,
                error: (iss) => `is ${(iss.input as string).length} characters long; at most ${maxLength} are allowed`,
            })
            .refine((v) => controlCharacter(v, multiline) === undefined, {
                abort: true,
                error: (iss) => `must not contain control characters (${controlCharacter(String(iss.input), multiline)}); ${allowed}`,
            });
        const choices = o.enum;
        if (choices !== undefined) {
            s = s.refine((v) => choices.includes(v), {
                abort: true,
                error: (iss) => `must be one of ${choices.map((e) => JSON.stringify(e)).join(", ")}; got ${show(iss.input)}`,
            });
        }
        if (o.nonEmpty ?? true) {
            s = s.refine((v) => v.trim() !== "", { abort: true, error: `must not be empty: ${lowerFirst(o.description)}` });
        }
        if (o.pattern !== undefined) {
            const p = o.pattern;
            s = s.regex(p.regex, { abort: true, error: (iss) => `expected ${p.expected}; got ${show(iss.input)}` });
        }
        return s;
    }) as Field<E extends readonly [string, ...string[]] ? E[number] : string>;
}

/** One of a few fixed strings, usable as a union's discriminator (`oneOf`). */
export function literal<const E extends readonly [string, ...string[]]>(o: CommonOpts<E[number]> & { enum: E }): Field<E[number]> {
    return field({ kind: "string", enum: o.enum }, o, (secret) => {
        const choices = o.enum.map((e) => JSON.stringify(e)).join(", ");
        const otherType = typeError(o.description, "a string", secret, o.requiredMessage);
        return z.enum(o.enum as unknown as [string, ...string[]], {
            error: (iss) =>
                typeof iss.input !== "string"
                    ? otherType(iss)
                    : `must be one of ${choices}; got ${secret ? "something else" : quoteValue(iss.input)}`,
        });
    });
}

export function int(o: CommonOpts<number> & { readonly min?: number; readonly max?: number }): Field<number> {
    const base = {
        kind: "integer" as const,
        ...(o.min === undefined ? {} : { min: o.min }),
        ...(o.max === undefined ? {} : { max: o.max }),
    };
    return field(base, o, (secret) => {
        const min = o.min ?? -Infinity;
        const max = o.max ?? Infinity;
        const range = o.max === undefined ? `at least ${min}` : o.min === undefined ? `at most ${max}` : `from ${min} to ${max}`;
        return z
            .number({ error: typeError(o.description, "an integer", secret, o.requiredMessage) })
            .refine((v) => Number.isInteger(v), { abort: true, error: (iss) => `expected an integer, got ${describe(iss.input, secret)}` })
            .refine((v) => v >= min && v <= max, { abort: true, error: (iss) => `must be an integer ${range}; got ${String(iss.input)}` });
    });
}

export function bool(o: CommonOpts<boolean>): Field<boolean> {
    return field({ kind: "boolean" }, o, (secret) =>
        z.boolean({ error: typeError(o.description, "true or false", secret, o.requiredMessage) }),
    );
}

export function arr<T>(items: Field<T>, o: CommonOpts<T[]> & { readonly minItems?: number }): Field<T[]> {
    return field({ kind: "array", items, ...(o.minItems === undefined ? {} : { min: o.minItems }) }, o, (secret) => {
        const inner = secret ? (secretOf(items) as Field<T>) : items;
        let s = z.array(inner, { error: typeError(o.description, "a list", secret, o.requiredMessage) });
        if (o.minItems !== undefined) {
            const n = o.minItems;
            s = s.min(n, { error: (iss) => `must have at least ${n} item(s); got ${(iss.input as unknown[]).length}` });
        }
        return [s, { items: inner }];
    });
}

/** A map of names to values; keys are checked for length, control characters, reserved names and `keyPattern`. */
export function map<V>(values: Field<V>, o: CommonOpts<Record<string, V>> & { readonly keyPattern?: Pattern }): Field<Record<string, V>> {
    const key = z
        .string()
        .refine((k) => k.length <= MAX_LENGTH.key, {
            abort: true,
            error: (iss) => `key is ${String(iss.input).length} characters long; at most ${MAX_LENGTH.key} are allowed`,
        })
        .refine((k) => controlCharacter(k) === undefined, {
            abort: true,
            error: (iss) => `key must not contain control characters (${controlCharacter(String(iss.input))})`,
        })
        .refine((k) => !RESERVED_KEYS.has(k), {
            abort: true,
            error: (iss) => `key ${JSON.stringify(iss.input)} is reserved; choose another name`,
        });
    const keys =
        o.keyPattern === undefined ? key : key.regex(o.keyPattern.regex, { abort: true, error: `key must be ${o.keyPattern.expected}` });
    return field({ kind: "map", values, ...(o.keyPattern === undefined ? {} : { keyPattern: o.keyPattern }) }, o, (secret) => {
        const inner = secret ? (secretOf(values) as Field<V>) : values;
        const s = z.record(keys, inner, {
            error: typeError(o.description, "an object (a map of names to values)", secret, o.requiredMessage),
        }) as unknown as z.ZodType<Record<string, V>>;
        return [s, { values: inner }];
    });
}

/** The first string (key or value) in a free-form object holding a control character, or one too long. */
function controlInJson(value: unknown, path: (string | number)[]): { path: (string | number)[]; message: string } | undefined {
    if (typeof value === "string") {
        if (value.length > MAX_LENGTH.line)
            return { path, message: `is ${value.length} characters long; at most ${MAX_LENGTH.line} are allowed` };
        const c = controlCharacter(value);
        return c === undefined ? undefined : { path, message: `must not contain control characters (${c})` };
    }
    if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
            const bad = controlInJson(value[i], [...path, i]);
            if (bad !== undefined) return bad;
        }
        return undefined;
    }
    if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) {
            if (RESERVED_KEYS.has(k) || controlCharacter(k) !== undefined || k.length > MAX_LENGTH.key) {
                return { path: [...path, k], message: "is not an acceptable key (control characters, reserved or over-long)" };
            }
            const bad = controlInJson(v, [...path, k]);
            if (bad !== undefined) return bad;
        }
    }
    return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A free-form object passed through as is (e.g. a Kubernetes `affinity`), checked to be an object of plain strings. */
export function json(o: CommonOpts<Record<string, unknown>>): Field<Record<string, unknown>> {
    return field({ kind: "json" }, o, (secret) =>
        z
            .custom<Record<string, unknown>>(isObject, { error: typeError(o.description, "an object", secret, o.requiredMessage) })
            .check((ctx) => {
                const bad = controlInJson(ctx.value, []);
                if (bad !== undefined) ctx.issues.push({ code: "custom", message: bad.message, path: bad.path, input: ctx.value });
            }),
    );
}

type Out<F> = F extends z.ZodType<infer O> ? O : never;
type Fields = Readonly<Record<string, Field>>;
/** The parsed object of `fields`: keys whose field may be undefined are optional. */
export type ObjectOf<F extends Fields> = { readonly [K in keyof F as undefined extends Out<F[K]> ? never : K]: Out<F[K]> } & {
    readonly [K in keyof F as undefined extends Out<F[K]> ? K : never]?: Exclude<Out<F[K]>, undefined>;
};

/** Separates the messages of one object's unknown keys (zod reports them as one issue). */
const KEY_SEPARATOR = "\u0000";

interface ObjOpts<F extends Fields> extends Omit<CommonOpts<ObjectOf<F>>, "check" | "default"> {
    readonly default?: Partial<ObjectOf<F>>;
    /** Cross-field rules over the parsed object; issue paths are relative to this object. */
    readonly checkObject?: (value: ObjectOf<F>) => ConfigIssue[];
    /** Keys another variant of a union has, refused here with this message instead of "unknown key". */
    readonly notUsed?: { readonly keys: readonly string[]; readonly message: string };
}

/** An object of known keys; an unknown key is refused with the likely one it meant. */
export function obj<F extends Fields>(fields: F, o: ObjOpts<F>): Field<ObjectOf<F>> {
    const { default: dflt, checkObject: rules, ...rest } = o;
    return field({ kind: "object", fields }, { ...rest, default: dflt as ObjectOf<F> | undefined }, (secret) => {
        const shape: Record<string, Field> = secret
            ? Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, secretOf(f)]))
            : { ...fields };
        const known = Object.keys(fields);
        const otherType = typeError(o.description, "an object", secret, o.requiredMessage);
        let s = z.strictObject(shape, {
            error: (iss) =>
                iss.code === "unrecognized_keys"
                    ? iss.keys
                          .map((k) => (o.notUsed?.keys.includes(k) === true ? o.notUsed.message : unknownKeyMessage(k, known)))
                          .join(KEY_SEPARATOR)
                    : otherType(iss),
        }) as unknown as z.ZodType<ObjectOf<F>>;
        if (rules !== undefined) {
            s = s.check((ctx) => {
                for (const issue of rules(ctx.value)) {
                    ctx.issues.push({ code: "custom", message: issue.message, input: ctx.value, params: { relativePath: issue.path } });
                }
            });
        }
        return [s, { fields: shape }];
    });
}

/**
 * One of several object shapes, told apart by the `key` each sets with a {@link literal} (its default picks
 * the variant when the key is absent): a discriminated union, the parsed type narrowing on the key.
 */
export function oneOf<K extends string, const V extends readonly [Field<Record<K, string>>, ...Field<Record<K, string>>[]]>(
    key: K,
    variants: V,
    o: Omit<CommonOpts<never>, "default" | "check">,
): Field<Out<V[number]>> {
    const build = (secret: boolean): Field<Out<V[number]>> => {
        const inner = (secret ? variants.map(secretOf) : [...variants]) as unknown as [z.ZodObject, ...z.ZodObject[]];
        const byValue = Object.fromEntries(inner.flatMap((v) => (fieldInfo(v.shape[key] as Field).enum ?? []).map((e) => [e, v as Field])));
        const choices = Object.keys(byValue)
            .map((e) => JSON.stringify(e))
            .join(", ");
        const otherType = typeError(o.description, "an object", secret, o.requiredMessage);
        const s = z.discriminatedUnion(key, inner, {
            error: (iss) =>
                iss.code === "invalid_union" ? `must be one of ${choices}; got ${describeKey(iss.input, key, secret)}` : otherType(iss),
        }) as unknown as Field<Out<V[number]>>;
        const fields: Record<string, Field> = {};
        for (const v of inner) for (const [k, f] of Object.entries(v.shape)) fields[k] ??= f;
        return register(s, { ...info, secret, fields, variants: { key, by: byValue } }, () => build(true));
    };
    const info: FieldInfo = { kind: "object", description: o.description, optional: false, secret: o.secret === true };
    return build(o.secret === true);
}

function describeKey(input: unknown, key: string, secret: boolean): string {
    const v = isObject(input) ? input[key] : undefined;
    return typeof v === "string" && !secret ? quoteValue(v) : describe(v, secret);
}

/** Marks a field optional: an absent key parses to `undefined`. */
export function optional<T>(field: Field<T>): Field<T | undefined> {
    const r = REGISTRY.get(field);
    if (r === undefined) throw new Error("optional: not a config field");
    return register(field.optional(), { ...r.info, optional: true }, () => optional(r.asSecret()));
}

// ---- parsing -------------------------------------------------------------------------------

/** Joins a key path: `hosts` + 1 → `hosts[1]`; `hosts[1]` + `address` → `hosts[1].address`. */
export function joinPath(base: string, key: string | number): string {
    if (typeof key === "number") return `${base}[${key}]`;
    const plain = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(key);
    const segment = plain ? key : `[${quoteValue(key)}]`;
    if (base === "") return segment;
    return plain ? `${base}.${segment}` : `${base}${segment}`;
}

/** Appends an already-formatted relative path (`hosts[1].address`) to `base`. */
export function appendPath(base: string, relative: string): string {
    if (relative === "") return base;
    if (base === "" || relative.startsWith("[")) return `${base}${relative}`;
    return `${base}.${relative}`;
}

const pathText = (path: readonly PropertyKey[]) => path.reduce<string>((p, k) => joinPath(p, typeof k === "number" ? k : String(k)), "");

/**
 * A config value with every `null` taken as absent (`key: null` in YAML means "not set"), except inside
 * free-form objects, which pass through as written. Keys are copied as own properties, whatever their name;
 * a `__proto__` key (an own key when JSON or YAML is parsed), which zod would drop without a word, is
 * refused here with its path.
 */
function withoutNulls(field: Field | undefined, value: unknown, path: string, issues: ConfigIssue[]): unknown {
    if (value === null) return undefined;
    const info = field === undefined ? undefined : REGISTRY.get(field)?.info;
    if (info === undefined || info.kind === "json") return value;
    if (Array.isArray(value)) {
        return info.kind === "array" ? value.map((v, i) => withoutNulls(info.items, v, joinPath(path, i), issues)) : value;
    }
    if (!isObject(value) || (info.kind !== "object" && info.kind !== "map")) return value;
    const chosen = info.variants === undefined ? undefined : value[info.variants.key];
    const variant =
        info.variants === undefined || typeof chosen !== "string" || !Object.hasOwn(info.variants.by, chosen)
            ? undefined
            : info.variants.by[chosen];
    const fields = variant === undefined ? info.fields : fieldInfo(variant).fields;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
        const at = joinPath(path, k);
        if (RESERVED_KEYS.has(k)) {
            issues.push({
                path: at,
                message:
                    info.kind === "map"
                        ? `key ${JSON.stringify(k)} is reserved; choose another name`
                        : unknownKeyMessage(k, Object.keys(fields ?? {})),
            });
            continue;
        }
        if (v === null) continue;
        Object.defineProperty(out, k, {
            value: withoutNulls(info.kind === "map" ? info.values : fields?.[k], v, at, issues),
            enumerable: true,
            writable: true,
            configurable: true,
        });
    }
    return out;
}

/** zod's issues as config issues: one per unknown key, paths as `hosts[1].address`, relative rule paths appended. */
function toConfigIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
    return issues.flatMap((iss): ConfigIssue[] => {
        const at = pathText(iss.path);
        switch (iss.code) {
            case "unrecognized_keys": {
                const messages = iss.message.split(KEY_SEPARATOR);
                return iss.keys.map((k, i) => ({ path: joinPath(at, k), message: messages[i] ?? unknownKeyMessage(k, []) }));
            }
            case "invalid_key":
                return iss.issues.map((inner) => ({ path: at, message: inner.message }));
            case "invalid_element":
                return iss.issues.map((inner) => ({ path: at, message: inner.message }));
            case "custom": {
                const relative = (iss.params as { relativePath?: string } | undefined)?.relativePath;
                return [{ path: relative === undefined ? at : appendPath(at, relative), message: iss.message }];
            }
            default:
                return [{ path: at, message: iss.message }];
        }
    });
}

/** Parses `value` with `field` (defaults applied): the value, or every problem with its key path. */
export function parseWith<T>(field: Field<T>, value: unknown): { value?: T; issues: ConfigIssue[] } {
    const reserved: ConfigIssue[] = [];
    const r = field.safeParse(withoutNulls(field, value, "", reserved));
    if (r.success && reserved.length === 0) return { value: r.data, issues: [] };
    return { issues: [...reserved, ...(r.success ? [] : toConfigIssues(r.error.issues))] };
}

/** Every field below `field` with its key path (`hosts[].address`, `registries{}.mirrors[]`), depth first. */
export function* walkFields(field: Field, path = ""): Generator<{ readonly path: string; readonly field: FieldInfo }> {
    const info = fieldInfo(field);
    yield { path, field: info };
    if (info.fields !== undefined) {
        for (const [k, sub] of Object.entries(info.fields)) yield* walkFields(sub, path === "" ? k : `${path}.${k}`);
    }
    if (info.items !== undefined) yield* walkFields(info.items, `${path}[]`);
    if (info.values !== undefined) yield* walkFields(info.values, `${path}{}`);
}
