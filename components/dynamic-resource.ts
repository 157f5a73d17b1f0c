/**
 * `DynamicResource`: registers what `pulumi.dynamic.Resource` registers (the type
 * `pulumi-nodejs:dynamic/<module>:<type>`, the provider's serialized code in the `__provider` input),
 * with that code kept in a cache on disk between runs.
 *
 * Serializing the providers' code is the largest fixed cost of evaluating the program: the SDK walks
 * each provider's functions through the V8 inspector and parses each one's text with the TypeScript
 * compiler (about 1.5 s of every evaluation, whatever its size: docs/benchmarks.md). The code only
 * changes when one of these changes, which is what the cache key is made of:
 *
 * - the provider's sources: its export name and every program module it loads ({@link sourceDigest},
 *   the same as its version);
 * - the compiler's output: the text and own properties of each function those modules export and of
 *   the provider's methods (ts-node and tsx print the same source differently, and a compiler that finds
 *   no tsconfig.json may not compile in strict mode);
 * - the serializer and the runtime: the SDK's version and Node's.
 *
 * A provider no module exports (a test's), or whose code captured a secret, is serialized every time
 * and never written. The cache lives in `node_modules/.cache/k3s-buildkit/providers` (written by whoever
 * installed the packages, emptied by `npm ci`); entries are written atomically, and one that cannot be
 * read, or belongs to another key, is serialized again.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { providerSources, serializeProvider, sourceDigest } from "./provider-version";

/** The SDK's package directory (the serializer's version is its version). */
const SDK_DIR = dirname(require.resolve("@pulumi/pulumi/package.json"));

/** Where serialized providers are kept: `node_modules/.cache/k3s-buildkit/providers`. */
export const PROVIDER_CACHE_DIR = join(SDK_DIR, "..", "..", ".cache", "k3s-buildkit", "providers");

/** The SDK's version, read once. */
const SDK_VERSION = (JSON.parse(readFileSync(join(SDK_DIR, "package.json"), "utf8")) as { version: string }).version;

/**
 * Every function among `values` as the serializer sees it: its compiled text, and its own property names
 * (a function compiled outside strict mode has its own `arguments` and `caller`, which the serializer
 * writes out).
 */
function functionTexts(values: Iterable<[string, unknown]>): string[] {
    const out: string[] = [];
    for (const [name, v] of values) {
        if (typeof v !== "function") continue;
        out.push(`${name} [${Object.getOwnPropertyNames(v).sort().join(",")}] ${Function.prototype.toString.call(v)}`);
    }
    return out;
}

/** A module's exports as name/value pairs; none for a module whose exports cannot be read. */
function exportsOf(m: NodeJS.Module): [string, unknown][] {
    try {
        const e = m.exports as unknown;
        return e !== null && typeof e === "object" ? Object.entries(e) : [];
    } catch {
        return [];
    }
}

/** The cache key of a provider's serialized code (see the module comment); undefined when it is not cached. */
export function providerCacheKey(provider: pulumi.dynamic.ResourceProvider): string | undefined {
    const found = providerSources(provider);
    if (found === undefined) return undefined;
    const h = createHash("sha256").update(`sdk ${SDK_VERSION}\nnode ${process.version}\nsources ${sourceDigest(found)}\n`);
    for (const m of found.modules) for (const t of functionTexts(exportsOf(m))) h.update(t).update("\n");
    for (const t of functionTexts(Object.entries(provider))) h.update(t).update("\n");
    return h.digest("hex");
}

interface CacheEntry {
    readonly key: string;
    readonly text: string;
}

/** The cached code for `key`, or undefined (missing, unreadable, or another key's). */
export function readCachedProvider(key: string, dir = PROVIDER_CACHE_DIR): string | undefined {
    try {
        const entry = JSON.parse(readFileSync(join(dir, `${key}.json`), "utf8")) as Partial<CacheEntry>;
        return entry.key === key && typeof entry.text === "string" ? entry.text : undefined;
    } catch {
        return undefined;
    }
}

/** Writes the code for `key` atomically (a temporary file renamed); a directory that cannot be written only costs the cache. */
export function writeCachedProvider(key: string, text: string, dir = PROVIDER_CACHE_DIR): void {
    const file = join(dir, `${key}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(tmp, JSON.stringify({ key, text } satisfies CacheEntry));
        renameSync(tmp, file);
    } catch (e) {
        void pulumi.log.debug(`k3s-buildkit: serialized provider not cached in ${dir}: ${(e as Error).message}`);
    }
}

/** The provider's serialized code and whether it captured a secret: from the cache, or serialized (and cached). */
export async function providerCode(
    provider: pulumi.dynamic.ResourceProvider,
    dir = PROVIDER_CACHE_DIR,
): Promise<{ text: string; containsSecrets: boolean }> {
    const key = providerCacheKey(provider);
    const cached = key === undefined ? undefined : readCachedProvider(key, dir);
    if (cached !== undefined) return { text: cached, containsSecrets: false };
    const serialized = await serializeProvider(provider);
    if (key !== undefined && !serialized.containsSecrets) writeCachedProvider(key, serialized.text, dir);
    return { text: serialized.text, containsSecrets: serialized.containsSecrets };
}

const codes = new WeakMap<object, pulumi.Output<string>>();

/** `__provider` for every resource of this provider in this process: one Output, secret when the code captured a secret. */
function providerInput(provider: pulumi.dynamic.ResourceProvider): pulumi.Output<string> {
    let code = codes.get(provider);
    if (code === undefined) {
        code = pulumi.output(providerCode(provider)).apply((c) => (c.containsSecrets ? pulumi.secret(c.text) : pulumi.output(c.text)));
        codes.set(provider, code);
    }
    return code;
}

/** A dynamic resource: the same registration as `pulumi.dynamic.Resource`, its provider's code from {@link providerCode}. */
export class DynamicResource extends pulumi.CustomResource {
    constructor(
        provider: pulumi.dynamic.ResourceProvider,
        name: string,
        props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions | undefined,
        module: string,
        type: string,
    ) {
        if (props.__provider !== undefined) throw new Error("A dynamic resource must not define the __provider key");
        super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: providerInput(provider) }, opts);
    }
}
