/**
 * The program evaluated under the mocks: index.ts afresh with a stack config (as the CLI sets it), or a
 * `Platform` with every registration's parent, dependencies, aliases and URN recorded.
 */
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../components/config";
import { fakeClusterAccess } from "./cluster-fakes";
import { type Recorded, recordingMocks, resolve, settle } from "./mocks";

/** Sets stack config as the CLI would: `k3s-buildkit:<key>` → string (objects as JSON). */
export function setStackConfig(values: Record<string, unknown>, secretKeys: readonly string[] = []): void {
    const all = Object.fromEntries(
        Object.entries(values).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    );
    pulumi.runtime.setAllConfig(
        all,
        secretKeys.map((k) => `${PROJECT}:${k}`),
    );
}

/**
 * Evaluates index.ts afresh (a new module instance) with the given config; returns the registrations, and
 * its exports or the error it threw (so a test can see what was registered before a failure: nothing).
 */
export async function tryProgram(
    values: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    preview = false,
    /** Reload only index.ts, keeping the compiled components (they hold no state): much faster, for many runs. */
    entryOnly = false,
): Promise<{ recorded: Recorded[]; exports?: Record<string, unknown>; error?: Error }> {
    const recorded = await recordingMocks(preview);
    setStackConfig(values, secretKeys);
    for (const key of Object.keys(require.cache)) {
        const ours = !key.includes("node_modules") && (key.endsWith("/index.ts") || (!entryOnly && key.includes("/components/")));
        if (ours) delete require.cache[key];
    }
    fakeClusterAccess();
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const exports = require("../../index") as Record<string, unknown>;
        await settle(recorded);
        return { recorded, exports };
    } catch (e) {
        await settle(recorded);
        return { recorded, error: e as Error };
    }
}

/** Evaluates index.ts afresh with the given config; returns its exports and the registrations; throws what it throws. */
export async function runProgram(
    values: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    preview = false,
): Promise<{ recorded: Recorded[]; exports: Record<string, unknown> }> {
    const r = await tryProgram(values, secretKeys, preview);
    if (r.error !== undefined) throw r.error;
    return { recorded: r.recorded, exports: r.exports ?? {} };
}

/** A registration with its options as the program set them: parent and explicit dependencies, by name. */
export interface RecordedWithDeps extends Recorded {
    /**
     * The resource's URN as the Pulumi engine forms it (its identity in state): stack, project, the types
     * of every ancestor and its own joined by `$`, name. (The mock monitor's own URNs keep only the
     * parent's type, so this is computed from the recorded parent chain.)
     */
    readonly urn: string;
    /** Alias URNs the resource declares (`aliases` given as URNs, resolved). */
    readonly aliases: readonly string[];
    readonly parent?: string;
    readonly dependsOn: string[];
    /** Properties the engine leaves alone on update (`ignoreChanges`). */
    readonly ignoreChanges: string[];
}

/** The resource name at the end of a URN. */
const urnName = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/**
 * Evaluates the platform for the given config through a `Platform`, with a transformation on every
 * top-level component (and so on every child) recording each resource's parent and `dependsOn`.
 */
export async function runPlatform(
    values: Record<string, unknown>,
    secretKeys: readonly string[] = [],
    preview = false,
    arch = "amd64",
): Promise<{ recorded: RecordedWithDeps[]; platform: import("../../components/platform").Platform }> {
    const recorded = await recordingMocks(preview, arch);
    setStackConfig(values, secretKeys);
    fakeClusterAccess();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadStackConfig } = require("../../components/config") as typeof import("../../components/config");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Platform } = require("../../components/platform") as typeof import("../../components/platform");
    const options = new Map<
        string,
        {
            parent?: pulumi.Resource;
            parentKey?: string;
            dependsOn: pulumi.Resource[];
            ignoreChanges: string[];
            aliases: pulumi.Input<string>[];
        }
    >();
    const keyOf = (r: pulumi.Resource) => {
        const internal = r as unknown as { __pulumiType: string; __name: string };
        return `${internal.__pulumiType}::${internal.__name}`;
    };
    const platform = new Platform("k3s-buildkit", loadStackConfig(), {
        transformations: [
            (a) => {
                const deps = a.opts.dependsOn;
                options.set(`${a.type}::${a.name}`, {
                    aliases: (a.opts.aliases ?? []).filter(
                        (x) => typeof x === "string" || pulumi.Output.isInstance(x),
                    ) as pulumi.Input<string>[],
                    parent: a.opts.parent,
                    ...(a.opts.parent === undefined ? {} : { parentKey: keyOf(a.opts.parent) }),
                    dependsOn: (Array.isArray(deps) ? deps : deps === undefined ? [] : [deps]) as pulumi.Resource[],
                    ignoreChanges: a.opts.ignoreChanges ?? [],
                });
                return undefined;
            },
        ],
    });
    await settle(recorded);
    const nameOf = async (r: pulumi.Resource) => urnName((await resolve(r.urn)).value ?? "");
    const withDeps: RecordedWithDeps[] = [];
    const qualifiedType = (key: string): string => {
        const parentKey = options.get(key)?.parentKey;
        const type = key.slice(0, key.lastIndexOf("::"));
        return parentKey === undefined ? type : `${qualifiedType(parentKey)}$${type}`;
    };
    for (const r of recorded) {
        const key = `${r.type}::${r.name}`;
        const o = options.get(key);
        const parent = o?.parent === undefined ? undefined : await nameOf(o.parent);
        withDeps.push({
            ...r,
            urn: `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualifiedType(key)}::${r.name}`,
            aliases: await Promise.all((o?.aliases ?? []).map(async (x) => (await resolve(pulumi.output(x))).value ?? "")),
            ...(parent === undefined ? {} : { parent }),
            dependsOn: (await Promise.all((o?.dependsOn ?? []).map(nameOf))).sort(),
            ignoreChanges: o?.ignoreChanges ?? [],
        });
    }
    return { recorded: withDeps, platform };
}
