/**
 * The version of a dynamic provider's code, derived, never bumped by hand. Pulumi stores a dynamic
 * provider's serialized code in each resource's state and runs that stored code for reads and deletes;
 * a resource is updated (and so stores the new code) only when its inputs change. Every dynamic resource
 * here takes this version as an input, and its diff treats a version change as a state-only update (no
 * step on the host), so each `up` after the code changed leaves state running the current code.
 *
 * The version is a digest of the source the serialized code is made from: the module that exports the
 * provider and every module of this program it loads (packages are `require`d by name, not serialized),
 * with the provider's export name. Any edit to one of those files (a comment too) is a new version: one
 * state-only update. A provider no module exports (a test's) is digested from its serialized code.
 * Reading the files costs a few milliseconds; serializing each provider a second time (the SDK does it
 * once for `__provider`) cost 1.5 s of a 200-build evaluation (docs/benchmarks.md).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, relative, sep } from "node:path";
import * as pulumi from "@pulumi/pulumi";

const versions = new WeakMap<object, Promise<string>>();

/**
 * `provider` serialized as the SDK serializes a dynamic provider into `__provider` (the same call; only
 * the factory arrow's own text, `() => provider`, is printed by whichever compiler loaded this file).
 */
export function serializeProvider(provider: pulumi.dynamic.ResourceProvider): Promise<pulumi.runtime.SerializedFunction> {
    return pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
}

/** The text of {@link serializeProvider}. */
export async function serializedProvider(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    return (await serializeProvider(provider)).text;
}

const isPackage = (file: string) => file.includes(`${sep}node_modules${sep}`);

/**
 * The loaded module of this program that exports `value`, and the name it exports it as: searched in the
 * module cache and in the graph below the main module (a module dropped from the cache to be loaded again
 * is still its parent's child, and its exports still in use).
 */
function exporterOf(value: object): { module: NodeJS.Module; name: string } | undefined {
    const modules = new Set<NodeJS.Module>();
    const add = (m: NodeJS.Module | undefined) => {
        if (m === undefined || modules.has(m) || isPackage(m.filename)) return;
        modules.add(m);
        for (const c of m.children) add(c);
    };
    for (const m of Object.values(require.cache)) add(m);
    add(require.main);
    for (const m of modules) {
        // A module still running (the program's entry, say) may not be read: its exports' getters throw.
        if (!m.loaded) continue;
        const exports = m.exports as unknown;
        if (exports === null || typeof exports !== "object") continue;
        try {
            for (const [name, v] of Object.entries(exports)) if (v === value) return { module: m, name };
        } catch {
            // An export whose getter throws: not the provider's module.
        }
    }
    return undefined;
}

/** A module and the modules of this program it loads, transitively, sorted by file name. */
export function programModules(root: NodeJS.Module): NodeJS.Module[] {
    const seen = new Map<string, NodeJS.Module>();
    const visit = (m: NodeJS.Module) => {
        if (seen.has(m.filename) || isPackage(m.filename)) return;
        seen.set(m.filename, m);
        for (const child of m.children) visit(child);
    };
    visit(root);
    return [...seen.values()].sort((a, b) => (a.filename < b.filename ? -1 : 1));
}

/** Where a provider's code comes from: the module exporting it, under which name, and the program modules it loads. */
export interface ProviderSources {
    readonly name: string;
    readonly module: NodeJS.Module;
    /** The module and the modules of this program it loads, transitively, sorted by file name. */
    readonly modules: readonly NodeJS.Module[];
}

const sources = new WeakMap<object, ProviderSources | null>();

/** The provider's sources (see {@link ProviderSources}); undefined for a provider no loaded module exports. Once per provider. */
export function providerSources(provider: pulumi.dynamic.ResourceProvider): ProviderSources | undefined {
    let s = sources.get(provider);
    if (s === undefined) {
        const found = exporterOf(provider);
        s = found === undefined ? null : { ...found, modules: programModules(found.module) };
        sources.set(provider, s);
    }
    return s ?? undefined;
}

/** sha256 (hex) of the provider's export name and its modules' paths (relative to its own, so the same in every checkout) and contents. */
export function sourceDigest(found: ProviderSources): string {
    const base = dirname(found.module.filename);
    const h = createHash("sha256").update(`export ${found.name}\n`);
    for (const m of found.modules) h.update(`${relative(base, m.filename)}\n`).update(readFileSync(m.filename));
    return h.digest("hex");
}

/** sha256 (16 hex digits) of the provider's source (see the module comment); once per provider and process. */
export function providerVersion(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    let v = versions.get(provider);
    if (v === undefined) {
        const found = providerSources(provider);
        if (found === undefined) {
            v = serializedProvider(provider).then((text) => createHash("sha256").update(text).digest("hex").slice(0, 16));
        } else {
            v = Promise.resolve(sourceDigest(found).slice(0, 16));
        }
        versions.set(provider, v);
    }
    return v;
}
