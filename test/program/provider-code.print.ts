/**
 * Prints, as JSON, the sha256 of every dynamic provider's serialized code and its cache key, by export
 * name (run by dynamic-resource.test.ts in processes with different environments, stack config and
 * working directories). Providers are
 * found as the program loads them: every export of a program module with `create` and `diff` functions.
 */
import { createHash } from "node:crypto";
import { sep } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { providerCacheKey } from "../../components/dynamic-resource";
import { serializedProvider } from "../../components/provider-version";

export async function providerCodes(): Promise<Record<string, { code: string; key?: string }>> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("../../components/platform");
    const found = new Map<string, pulumi.dynamic.ResourceProvider>();
    for (const m of Object.values(require.cache)) {
        if (m === undefined || !m.filename.includes(`${sep}components${sep}`) || m.filename.includes(`${sep}node_modules${sep}`)) continue;
        for (const [name, v] of Object.entries(m.exports as Record<string, unknown>)) {
            const p = v as { create?: unknown; diff?: unknown } | null;
            if (typeof p === "object" && p !== null && typeof p.create === "function" && typeof p.diff === "function")
                found.set(name, p as pulumi.dynamic.ResourceProvider);
        }
    }
    const out: Record<string, { code: string; key?: string }> = {};
    for (const [name, p] of [...found].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const code = createHash("sha256")
            .update(await serializedProvider(p))
            .digest("hex");
        out[name] = { code, key: providerCacheKey(p) };
    }
    return out;
}

if (require.main === module) void providerCodes().then((c) => process.stdout.write(JSON.stringify(c)));
