/**
 * A small declarative schema for stack config: one description drives validation (every problem
 * reported with its key path), defaults, the static type of the parsed config, and the generated
 * config reference in the README. Pure: no Pulumi, no I/O.
 */

/** One problem found in config: the key path (`hosts[1].address`) and what is wrong and what would be right. */
export interface ConfigIssue {
    readonly path: string;
    readonly message: string;
}

/** Formats an issue as `path: message`. */
export function formatIssue(issue: ConfigIssue): string {
    return `${issue.path}: ${issue.message}`;
}

interface FieldBase<T, Opt extends boolean> {
    /** One line for the config reference. */
    readonly description: string;
    /** Value used when the key is absent (absent also when `null`). */
    readonly default?: T;
    /** When true and there is no default, an absent key parses to `undefined`. */
    readonly optional: Opt;
    /** The value must be stored as a Pulumi secret (`pulumi config set --secret`). */
    readonly secret?: boolean;
    /** Extra rule; returns what is wrong and what would be right, or undefined. */
    readonly check?: (value: T) => string | undefined;
    /** Phantom, for type inference only. */
    readonly __type?: T;
}

export interface StringField<Opt extends boolean = boolean> extends FieldBase<string, Opt> {
    readonly kind: "string";
    readonly enum?: readonly string[];
    /**
     * A pattern the value must match, with a human description used in the error. It must run in linear
     * time (no nested quantifiers over overlapping classes): test/config/patterns.test.ts times every one.
     */
    readonly pattern?: { readonly regex: RegExp; readonly expected: string };
    /** Reject the empty string (default true). */
    readonly nonEmpty?: boolean;
    /**
     * The value may span lines (file contents, PEM blocks): tab, newline and carriage return are allowed.
     * Other control characters (NUL included) are refused in every string. @default false
     */
    readonly multiline?: boolean;
    /** Longest accepted value, in characters. @default 1 MiB when multiline, else {@link MAX_LENGTH.line} */
    readonly maxLength?: number;
}
export interface IntegerField<Opt extends boolean = boolean> extends FieldBase<number, Opt> {
    readonly kind: "integer";
    readonly min?: number;
    readonly max?: number;
}
export interface BooleanField<Opt extends boolean = boolean> extends FieldBase<boolean, Opt> {
    readonly kind: "boolean";
}
export interface ArrayField<I extends Field = Field, Opt extends boolean = boolean> extends FieldBase<unknown[], Opt> {
    readonly kind: "array";
    readonly items: I;
    readonly minItems?: number;
}
export interface ObjectField<F extends Fields = Fields, Opt extends boolean = boolean> extends Omit<
    FieldBase<Record<string, unknown>, Opt>,
    "check"
> {
    readonly kind: "object";
    readonly fields: F;
    /** Cross-field rules over the parsed object; issue paths are relative to this object. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    readonly checkObject?: (value: any) => ConfigIssue[];
}
export interface MapField<V extends Field = Field, Opt extends boolean = boolean> extends FieldBase<Record<string, unknown>, Opt> {
    readonly kind: "map";
    readonly values: V;
    /** Rule for keys, with the expectation used in the error (linear time, as for {@link StringField.pattern}). */
    readonly keyPattern?: { readonly regex: RegExp; readonly expected: string };
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

/** A free-form object passed through as is (e.g. a Kubernetes `affinity`), checked only to be an object. */
export interface JsonField<Opt extends boolean = boolean> extends FieldBase<Record<string, unknown>, Opt> {
    readonly kind: "json";
}

export type Field =
    | StringField<boolean>
    | IntegerField<boolean>
    | BooleanField<boolean>
    | ArrayField<Field, boolean>
    | ObjectField<Fields, boolean>
    | MapField<Field, boolean>
    | JsonField<boolean>;
export type Fields = Readonly<Record<string, Field>>;

/** The parsed TypeScript type of a field. */
export type Infer<F> =
    F extends StringField<boolean>
        ? F extends { enum?: readonly (infer E)[] }
            ? E
            : string
        : F extends IntegerField<boolean>
          ? number
          : F extends BooleanField<boolean>
            ? boolean
            : F extends ArrayField<infer I, boolean>
              ? Infer<I>[]
              : F extends ObjectField<infer Fs, boolean>
                ? InferObject<Fs>
                : F extends MapField<infer V, boolean>
                  ? Record<string, Infer<V>>
                  : F extends JsonField<boolean>
                    ? Record<string, unknown>
                    : never;

type OptionalKeys<F extends Fields> = {
    [K in keyof F]: F[K] extends { optional: true } ? K : never;
}[keyof F];
type RequiredKeys<F extends Fields> = Exclude<keyof F, OptionalKeys<F>>;

export type InferObject<F extends Fields> = { readonly [K in RequiredKeys<F>]: Infer<F[K]> } & {
    readonly [K in OptionalKeys<F>]?: Infer<F[K]>;
};

// ---- builders ------------------------------------------------------------------------------

interface CommonOpts<T> {
    readonly description: string;
    readonly default?: T;
    readonly secret?: boolean;
    readonly check?: (value: T) => string | undefined;
}

/** A string that must be present (or has a default). */
export function str<const E extends readonly string[] = readonly string[]>(
    o: CommonOpts<string> & { enum?: E; pattern?: StringField["pattern"]; nonEmpty?: boolean; multiline?: boolean; maxLength?: number },
): StringField<false> & { enum?: E } {
    return { kind: "string", optional: false, ...o };
}
export function int(o: CommonOpts<number> & { min?: number; max?: number }): IntegerField<false> {
    return { kind: "integer", optional: false, ...o };
}
export function bool(o: CommonOpts<boolean>): BooleanField<false> {
    return { kind: "boolean", optional: false, ...o };
}
export function arr<I extends Field>(items: I, o: CommonOpts<unknown[]> & { minItems?: number }): ArrayField<I, false> {
    return { kind: "array", optional: false, ...o, items };
}
export function obj<F extends Fields>(
    fields: F,
    o: Omit<CommonOpts<InferObject<F>>, "check" | "default"> & {
        default?: Partial<InferObject<F>>;
        checkObject?: (value: InferObject<F>) => ConfigIssue[];
    },
): ObjectField<F, false> {
    return { kind: "object", optional: false, ...o, default: o.default, fields };
}
export function map<V extends Field>(
    values: V,
    o: CommonOpts<Record<string, unknown>> & { keyPattern?: MapField["keyPattern"] },
): MapField<V, false> {
    return { kind: "map", optional: false, ...o, values };
}
export function json(o: CommonOpts<Record<string, unknown>>): JsonField<false> {
    return { kind: "json", optional: false, ...o };
}
/** Marks a field optional: an absent key parses to `undefined`. */
export function optional<F extends Field>(field: F): Omit<F, "optional"> & { optional: true } {
    return { ...field, optional: true };
}

// ---- validation ----------------------------------------------------------------------------

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

/**
 * Validates `value` against `field` at `path`, applying defaults. Every problem is pushed to
 * `issues`; the returned value is meaningful only when no issue was added.
 */
export function parseField(field: Field, value: unknown, path: string, issues: ConfigIssue[], inSecret = false): unknown {
    if (value === undefined || value === null) {
        // A default is parsed like a given value, so an object default gets its fields' defaults too.
        if (field.default !== undefined) return parseField(field, structuredClone(field.default), path, issues, inSecret);
        if (field.optional) return undefined;
        issues.push({ path, message: `is required: ${lowerFirst(field.description)}` });
        return undefined;
    }
    const before = issues.length;
    const parsed = parsePresent(field, value, path, issues, inSecret || field.secret === true);
    if (issues.length === before && "check" in field && field.check !== undefined) {
        const problem = (field.check as (v: unknown) => string | undefined)(parsed);
        if (problem !== undefined) issues.push({ path, message: problem });
    }
    return parsed;
}

function lowerFirst(s: string): string {
    // "Unique name…" → "unique name…", but "IP address…" stays.
    return /^[A-Z][a-z]/.test(s) ? s[0].toLowerCase() + s.slice(1) : s;
}

/** The first string (key or value) in a free-form object holding a control character, or one too long. */
function controlInJson(value: unknown, path: string): ConfigIssue | undefined {
    if (typeof value === "string") {
        if (value.length > MAX_LENGTH.line)
            return { path, message: `is ${value.length} characters long; at most ${MAX_LENGTH.line} are allowed` };
        const c = controlCharacter(value);
        return c === undefined ? undefined : { path, message: `must not contain control characters (${c})` };
    }
    if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
            const bad = controlInJson(value[i], joinPath(path, i));
            if (bad !== undefined) return bad;
        }
        return undefined;
    }
    if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) {
            const at = joinPath(path, k);
            if (RESERVED_KEYS.has(k) || controlCharacter(k) !== undefined || k.length > MAX_LENGTH.key) {
                return { path: at, message: "is not an acceptable key (control characters, reserved or over-long)" };
            }
            const bad = controlInJson(v, at);
            if (bad !== undefined) return bad;
        }
    }
    return undefined;
}

/** Sets `key` on `out` as an own property, whatever its name (never a prototype change). */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function parsePresent(field: Field, value: unknown, path: string, issues: ConfigIssue[], secret: boolean): unknown {
    switch (field.kind) {
        case "string": {
            if (typeof value !== "string") {
                issues.push({ path, message: `expected a string, got ${describe(value, secret)}` });
                return undefined;
            }
            const maxLength = field.maxLength ?? (field.multiline === true ? MAX_LENGTH.text : MAX_LENGTH.line);
            if (value.length > maxLength) {
                issues.push({ path, message: `is ${value.length} characters long; at most ${maxLength} are allowed` });
                return undefined;
            }
            const control = controlCharacter(value, field.multiline === true);
            if (control !== undefined) {
                const allowed = field.multiline === true ? "only tab, newline and carriage return may appear" : "write it on one line";
                issues.push({ path, message: `must not contain control characters (${control}); ${allowed}` });
                return undefined;
            }
            if (field.enum !== undefined && !field.enum.includes(value)) {
                const choices = field.enum.map((e: string) => JSON.stringify(e)).join(", ");
                issues.push({ path, message: `must be one of ${choices}; got ${secret ? "something else" : quoteValue(value)}` });
                return undefined;
            }
            if ((field.nonEmpty ?? true) && value.trim() === "") {
                issues.push({ path, message: `must not be empty: ${lowerFirst(field.description)}` });
                return undefined;
            }
            if (field.pattern !== undefined && !field.pattern.regex.test(value)) {
                issues.push({ path, message: `expected ${field.pattern.expected}; got ${secret ? "something else" : quoteValue(value)}` });
                return undefined;
            }
            return value;
        }
        case "integer": {
            if (typeof value !== "number" || !Number.isInteger(value)) {
                issues.push({ path, message: `expected an integer, got ${describe(value, secret)}` });
                return undefined;
            }
            const min = field.min ?? -Infinity;
            const max = field.max ?? Infinity;
            if (value < min || value > max) {
                const range =
                    field.max === undefined ? `at least ${min}` : field.min === undefined ? `at most ${max}` : `from ${min} to ${max}`;
                issues.push({ path, message: `must be an integer ${range}; got ${value}` });
                return undefined;
            }
            return value;
        }
        case "boolean": {
            if (typeof value !== "boolean") {
                issues.push({ path, message: `expected true or false, got ${describe(value, secret)}` });
                return undefined;
            }
            return value;
        }
        case "array": {
            if (!Array.isArray(value)) {
                issues.push({ path, message: `expected a list, got ${describe(value, secret)}` });
                return undefined;
            }
            if (field.minItems !== undefined && value.length < field.minItems) {
                issues.push({ path, message: `must have at least ${field.minItems} item(s); got ${value.length}` });
            }
            return value.map((item: unknown, i: number) => parseField(field.items, item, joinPath(path, i), issues, secret));
        }
        case "map": {
            if (typeof value !== "object" || Array.isArray(value)) {
                issues.push({ path, message: `expected an object (a map of names to values), got ${describe(value, secret)}` });
                return undefined;
            }
            const out: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
                const keyPath = joinPath(path, k);
                const keyProblem =
                    k.length > MAX_LENGTH.key
                        ? `key is ${k.length} characters long; at most ${MAX_LENGTH.key} are allowed`
                        : controlCharacter(k) !== undefined
                          ? `key must not contain control characters (${controlCharacter(k)})`
                          : RESERVED_KEYS.has(k)
                            ? `key ${JSON.stringify(k)} is reserved; choose another name`
                            : field.keyPattern !== undefined && !field.keyPattern.regex.test(k)
                              ? `key must be ${field.keyPattern.expected}`
                              : undefined;
                if (keyProblem !== undefined) {
                    issues.push({ path: keyPath, message: keyProblem });
                    continue;
                }
                setOwn(out, k, parseField(field.values, v, keyPath, issues, secret));
            }
            return out;
        }
        case "json": {
            if (typeof value !== "object" || value === null || Array.isArray(value)) {
                issues.push({ path, message: `expected an object, got ${describe(value, secret)}` });
                return undefined;
            }
            const bad = controlInJson(value, path);
            if (bad !== undefined) {
                issues.push(bad);
                return undefined;
            }
            return value;
        }
        case "object": {
            if (typeof value !== "object" || Array.isArray(value)) {
                issues.push({ path, message: `expected an object, got ${describe(value, secret)}` });
                return undefined;
            }
            const raw = value as Record<string, unknown>;
            const known = Object.keys(field.fields);
            for (const k of Object.keys(raw)) {
                if (!known.includes(k)) issues.push({ path: joinPath(path, k), message: unknownKeyMessage(k, known) });
            }
            const before = issues.length;
            const out: Record<string, unknown> = {};
            for (const [k, sub] of Object.entries(field.fields)) {
                const parsed = parseField(sub, Object.hasOwn(raw, k) ? raw[k] : undefined, joinPath(path, k), issues, secret);
                if (parsed !== undefined) out[k] = parsed;
            }
            if (issues.length === before && field.checkObject !== undefined) {
                for (const issue of field.checkObject(out)) {
                    issues.push({ path: appendPath(path, issue.path), message: issue.message });
                }
            }
            return out;
        }
    }
}

/** Every field below `field` with its key path (`hosts[].address`, `registries{}.mirrors[]`), depth first. */
export function* walkFields(field: Field, path = ""): Generator<{ readonly path: string; readonly field: Field }> {
    yield { path, field };
    switch (field.kind) {
        case "object":
            for (const [k, sub] of Object.entries(field.fields)) yield* walkFields(sub, path === "" ? k : `${path}.${k}`);
            break;
        case "array":
            yield* walkFields(field.items, `${path}[]`);
            break;
        case "map":
            yield* walkFields(field.values, `${path}{}`);
            break;
        default:
            break;
    }
}
