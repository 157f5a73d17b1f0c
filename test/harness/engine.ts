/**
 * A stand-in for the Pulumi engine, for the real-host tests: the program (index.ts) is evaluated under
 * `pulumi.runtime.setMocks`, and this mock monitor *performs* each registered step on the real machine
 * the way the providers would, so the program's own steps run, in the order Pulumi's runtime releases
 * them (a registration waits for its inputs and `dependsOn`), with real outputs flowing onward.
 *
 * - `command:*:Command`: runs `create` with `stdin` (over SSH like @pulumi/command, or locally); on a
 *   later `up` it runs again only if its inputs changed (the provider's update re-runs create); `delete`
 *   runs on destroy.
 * - HostFile / SystemdService / HostBuild: the real dynamic providers (diff → update, refresh → read, delete).
 * - Components and `random:*` hold no host state (the random token is kept across runs).
 * - Resources in state that a run no longer registers are deleted after it, newest first (as the engine
 *   deletes dependents before what they depend on), when the run had no failure.
 *
 * Not the Pulumi CLI: no state file, no previews; it exists because the CLI cannot be had here.
 */
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../components/config";
import { hostBuildProvider } from "../../components/builds/host-build-provider";
import { firstServerProvider } from "../../components/host/first-server-provider";
import { hostFileProvider } from "../../components/host/host-file-provider";
import { systemdServiceProvider } from "../../components/host/host-service-provider";
import type { TransportTarget } from "../../components/host/runner";
import { execCommand } from "../../components/host/transport";
import { settle } from "../../scripts/evaluate";

interface Stored {
    readonly type: string;
    readonly name: string;
    readonly id: string;
    inputs: Record<string, unknown>;
    outputs: Record<string, unknown>;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Strips Pulumi's secret wrappers, recursively. */
function plain(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(plain);
    if (typeof v === "object" && v !== null) {
        const o = v as Record<string, unknown>;
        if (SECRET_SIG in o) return plain(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
    }
    return v;
}

/** The transport target of a command resource's inputs (`connection` for remote, none for local). */
function commandTarget(type: string, inputs: Record<string, unknown>): TransportTarget {
    if (type === "command:local:Command") return { kind: "local", sudo: false };
    const c = inputs.connection as { host: string; port?: number; user?: string; privateKey: string; hostKey?: string };
    return {
        kind: "ssh",
        host: c.host,
        port: c.port ?? 22,
        user: c.user ?? "root",
        sudo: false,
        privateKey: c.privateKey,
        ...(c.hostKey === undefined ? {} : { hostKey: c.hostKey }),
        dialErrorLimit: 3,
        dialTimeoutSeconds: 15,
    };
}

const DYNAMIC = {
    "pulumi-nodejs:dynamic/k3s-buildkit:HostFile": hostFileProvider,
    "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService": systemdServiceProvider,
    "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild": hostBuildProvider,
    "pulumi-nodejs:dynamic/k3s-buildkit:FirstServer": firstServerProvider,
} as Record<string, pulumi.dynamic.ResourceProvider | undefined>;

export interface RunReport {
    /** Names of resources whose step ran on a host (created or updated). */
    readonly executed: string[];
    /** Errors, by resource name. */
    readonly failures: { name: string; message: string }[];
    /** Stack outputs of index.ts, resolved. */
    readonly outputs: Record<string, unknown>;
    /** Names of resources deleted because the program no longer registers them, in order. */
    readonly deleted: string[];
}

export class HostEngine {
    private readonly state = new Map<string, Stored>();
    /** Keys in creation order, for destroy. */
    private order: string[] = [];

    /** `pulumi up`: evaluates index.ts with `config` and performs what changed. */
    async up(config: Record<string, unknown>, secretKeys: readonly string[]): Promise<RunReport> {
        const executed: string[] = [];
        const deleted: string[] = [];
        const registered = new Set<string>();
        const failures: { name: string; message: string }[] = [];
        let pending = 0;
        const registrations: unknown[] = [];
        await pulumi.runtime.setMocks(
            {
                newResource: async (args) => {
                    registrations.push(args.name);
                    registered.add(`${args.type}::${args.name}`);
                    pending++;
                    try {
                        return await this.perform(args.type, args.name, plain(args.inputs) as Record<string, unknown>, executed);
                    } catch (e) {
                        // Like the engine, stop here: this resource never completes, so nothing that
                        // depends on it is created. (Rejecting would surface as an unhandled rejection.)
                        failures.push({ name: args.name, message: (e as Error).message });
                        return new Promise<never>(() => undefined);
                    } finally {
                        pending--;
                    }
                },
                call: () => ({}),
            },
            PROJECT,
            "realhost",
            false,
        );
        pulumi.runtime.setAllConfig(
            Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
            secretKeys.map((k) => `${PROJECT}:${k}`),
        );
        for (const key of Object.keys(require.cache)) {
            if (!key.includes("node_modules") && (key.endsWith("/index.ts") || key.includes("/components/"))) delete require.cache[key];
        }
        let outputs: Record<string, unknown> = {};
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const mod = require("../../index") as Record<string, unknown>;
            await settle(registrations);
            while (pending > 0) {
                await new Promise((r) => setTimeout(r, 100));
                await settle(registrations);
            }
            if (failures.length === 0) {
                outputs = await new Promise((r) => pulumi.output(mod).apply(r));
                for (const key of [...this.order].reverse()) {
                    if (registered.has(key)) continue;
                    deleted.push(this.state.get(key)!.name);
                    await this.deleteOne(key);
                }
            }
        } catch (e) {
            failures.push({ name: "(program)", message: (e as Error).message });
        }
        // Steps that failed never complete, like in the engine; clear the SDK's leak bookkeeping for
        // them (as it does at process exit) so the next run, and the test process, start clean.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises: () => unknown }).leakedPromises();
        return { executed, failures, outputs, deleted };
    }

    private async perform(type: string, name: string, inputs: Record<string, unknown>, executed: string[]) {
        const key = `${type}::${name}`;
        const old = this.state.get(key);
        const remember = (id: string, outputs: Record<string, unknown>) => {
            this.state.set(key, { type, name, id, inputs, outputs });
            if (!this.order.includes(key)) this.order.push(key);
            return { id, state: outputs };
        };
        if (type === "command:remote:Command" || type === "command:local:Command") {
            if (old !== undefined && JSON.stringify(old.inputs) === JSON.stringify(inputs)) return { id: old.id, state: old.outputs };
            executed.push(name);
            const r = await execCommand(commandTarget(type, inputs), inputs.create as string, (inputs.stdin as string | undefined) ?? "");
            if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr.trim().split("\n").slice(-5).join("\n")}`);
            return remember(`${name}-id`, { ...inputs, stdout: r.stdout, stderr: r.stderr });
        }
        const provider = DYNAMIC[type];
        if (provider !== undefined) {
            const news = { ...inputs };
            delete news.__provider;
            const checked = await provider.check?.(old?.inputs ?? {}, news);
            if (checked !== undefined && (checked.failures ?? []).length > 0) {
                throw new Error(`${name}: ${(checked.failures ?? []).map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
            }
            if (old === undefined) {
                executed.push(name);
                const r = await provider.create(news);
                return remember(r.id, r.outs as Record<string, unknown>);
            }
            const d = await provider.diff!(old.id, old.outputs, news);
            if (!d.changes) return remember(old.id, old.outputs);
            executed.push(name);
            const r = await provider.update!(old.id, old.outputs, news);
            return remember(old.id, r.outs as Record<string, unknown>);
        }
        if (type.startsWith("random:")) {
            if (old !== undefined) return { id: old.id, state: old.outputs };
            return remember(`${name}-id`, {
                ...inputs,
                result: `token-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`,
            });
        }
        return remember(`${name}-id`, {});
    }

    /** `pulumi refresh`: reads every dynamic resource; returns the names whose state on the host changed. */
    async refresh(): Promise<string[]> {
        const drifted: string[] = [];
        for (const key of this.order) {
            const s = this.state.get(key)!;
            const provider = DYNAMIC[s.type];
            // A provider without read (FirstServer) keeps its state, as Pulumi does.
            if (provider?.read === undefined) continue;
            const r = await provider.read(s.id, s.outputs);
            if (JSON.stringify(r.props) !== JSON.stringify(s.outputs)) drifted.push(s.name);
            s.outputs = r.props as Record<string, unknown>;
        }
        return drifted;
    }

    /** `pulumi destroy`: deletes in reverse creation order. Returns the names whose delete ran a step. */
    async destroy(): Promise<string[]> {
        const ran: string[] = [];
        for (const key of [...this.order].reverse()) {
            if (await this.deleteOne(key)) ran.push(key.slice(key.lastIndexOf("::") + 2));
        }
        this.order = [];
        return ran;
    }

    /** Deletes one resource (its delete step, if any) and forgets it; true if a step ran. */
    private async deleteOne(key: string): Promise<boolean> {
        const s = this.state.get(key)!;
        let ran = false;
        if (s.type === "command:remote:Command" || s.type === "command:local:Command") {
            if (typeof s.inputs.delete === "string") {
                ran = true;
                const r = await execCommand(commandTarget(s.type, s.inputs), s.inputs.delete, "");
                if (r.code !== 0) throw new Error(`${s.name} delete: exit ${r.code}: ${r.stderr}`);
            }
        } else if (DYNAMIC[s.type]?.delete !== undefined) {
            ran = true;
            await DYNAMIC[s.type]!.delete!(s.id, s.outputs);
        }
        this.state.delete(key);
        this.order = this.order.filter((k) => k !== key);
        return ran;
    }
}
