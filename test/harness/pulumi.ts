/**
 * The real Pulumi engine for the real-host tests: the CLI built by scripts/engine.sh runs index.ts for a
 * test stack, with a file backend in a temp directory and a passphrase. The stack file is written the
 * way a user writes Pulumi.<stack>.yaml (structured keys as YAML); secrets are set with
 * `pulumi config set --secret`, from stdin, as a user sets them.
 *
 * What each run did is read from the engine's own event log (`--event-log`): the resources whose step
 * the engine ran (create, update, replace, delete), the errors it reported, the outputs it exported.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { PROJECT } from "../../components/config";

const REPO = join(__dirname, "..", "..");

export interface RunReport {
    /** Names of resources whose step the engine ran (created, updated, replaced). */
    readonly executed: string[];
    /** Errors, by resource name (`(program)` for the program itself). */
    readonly failures: { name: string; message: string }[];
    /** Stack outputs, secrets shown. */
    readonly outputs: Record<string, unknown>;
    /** Names of resources deleted because the program no longer registers them, in order. */
    readonly deleted: string[];
    /** The CLI's own output (stdout and stderr). */
    readonly log: string;
    /** Names of resources the engine replaced (or, in a preview, would replace). */
    readonly replaced: string[];
    /** Steps by operation, as the engine counted them (`create`, `same`, `update`, …). */
    readonly ops: Record<string, number>;
}

interface EngineEvent {
    resOutputsEvent?: { metadata: { op: string; urn: string; type: string; diffs?: string[]; detailedDiff?: unknown } };
    resOpFailedEvent?: { metadata: { op: string; urn: string } };
    diagnosticEvent?: { urn?: string; message: string; severity: string };
}

const COMPONENT = /^(pulumi:pulumi:Stack|k3s-buildkit:(index|host|cluster|build):)/;

/** The name part of a URN. */
export function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** Engine events of one command, from its event log. */
function readEvents(path: string): EngineEvent[] {
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as EngineEvent);
}

/** True when the built engine is there (scripts/engine.sh ran). */
export function engineBuilt(): boolean {
    return existsSync(join(REPO, ".cache", "engine", "env"));
}

export class PulumiCli {
    readonly dir = mkdtempSync(join(tmpdir(), "k3sbk-engine-"));
    readonly stack: string;
    private readonly env: NodeJS.ProcessEnv;
    /** Added to the CLI's environment for the runs that follow (a moved clock for its Node processes, say). */
    extraEnv: NodeJS.ProcessEnv = {};
    private readonly configFile: string;
    private readonly secretsSet = new Map<string, string>();
    private readonly outputsSeen: string[] = [];
    /** The directory of the program the CLI runs (this repository; another checkout for an upgrade check). */
    programDir = REPO;

    /** Everything the CLI printed so far, except `stack output --show-secrets` (which shows secrets by request). */
    transcript(): string {
        return this.outputsSeen.join("\n");
    }

    constructor(stack = `realhost-${process.pid}`) {
        this.stack = stack;
        this.configFile = join(this.dir, `Pulumi.${stack}.yaml`);
        const sourced = spawnSync("bash", ["-c", `bash scripts/engine.sh >/dev/null && . .cache/engine/env && env -0`], {
            cwd: REPO,
            encoding: "utf8",
        });
        if (sourced.status !== 0) throw new Error(`scripts/engine.sh failed:\n${sourced.stderr}`);
        const engineEnv = Object.fromEntries(
            sourced.stdout
                .split("\0")
                .filter((kv) => kv.includes("="))
                .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
        );
        this.env = {
            PATH: engineEnv.PATH,
            HOME: process.env.HOME,
            PULUMI_HOME: engineEnv.PULUMI_HOME,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_BACKEND_URL: `file://${join(this.dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "k3sbk-test-passphrase",
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            // Exposes --event-log, the engine's own record of each step (what the automation API reads).
            PULUMI_DEBUG_COMMANDS: "true",
            NO_COLOR: "1",
        };
        spawnSync("mkdir", ["-p", join(this.dir, "state")]);
    }

    /** Creates the stack (once, before the first run). */
    async init(): Promise<void> {
        if (this.initialized) return;
        await this.cli(["stack", "init", this.stack], true);
        // `stack init` writes the passphrase's salt into Pulumi.<stack>.yaml in the project: move it to
        // this test's own stack file, so the work tree stays as it was.
        const written = join(this.programDir, `Pulumi.${this.stack}.yaml`);
        if (existsSync(written)) {
            writeFileSync(this.configFile, readFileSync(written));
            rmSync(written);
        }
        this.initialized = true;
    }

    private initialized = false;

    /**
     * Runs the CLI in the project; resolves with its status and output. Rejects on failure when `check`.
     * Asynchronous: the test process serves the mirror and the fixtures the run downloads from.
     */
    async cli(args: readonly string[], check: boolean, input?: string): Promise<{ status: number; out: string }> {
        const { status, out } = await new Promise<{ status: number; out: string }>((resolve, reject) => {
            const child = spawn("pulumi", [...args, "--non-interactive", "--color", "never"], {
                cwd: this.programDir,
                env: { ...this.env, ...this.extraEnv },
            });
            const chunks: Buffer[] = [];
            child.stdout.on("data", (d: Buffer) => chunks.push(d));
            child.stderr.on("data", (d: Buffer) => chunks.push(d));
            child.on("error", reject);
            child.on("close", (code) => resolve({ status: code ?? 1, out: Buffer.concat(chunks).toString("utf8") }));
            child.stdin.end(input ?? "");
        });
        this.outputsSeen.push(out);
        if (check && status !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${status}):\n${out.slice(-6000)}`);
        return { status, out };
    }

    private stackArgs(): string[] {
        return ["--stack", this.stack, "--config-file", this.configFile];
    }

    /**
     * Writes the stack's config: plain keys into the stack file, each of `secretKeys` with
     * `pulumi config set --secret` (only when its value changed, as a user would).
     */
    async configure(config: Record<string, unknown>, secretKeys: readonly string[]): Promise<void> {
        await this.init();
        // Keep what the CLI wrote: the passphrase's salt and the secrets (`secure:` values).
        const file = existsSync(this.configFile)
            ? ((parse(readFileSync(this.configFile, "utf8")) ?? {}) as { encryptionsalt?: string; config?: Record<string, unknown> })
            : {};
        const keep = Object.fromEntries(
            [...this.secretsSet.keys()]
                .filter((k) => secretKeys.includes(k) && this.secretsSet.get(k) === JSON.stringify(config[k]))
                .map((k) => [`${PROJECT}:${k}`, file.config?.[`${PROJECT}:${k}`]]),
        );
        const plain = Object.fromEntries(
            Object.entries(config)
                .filter(([k]) => !secretKeys.includes(k))
                .map(([k, v]) => [`${PROJECT}:${k}`, v]),
        );
        writeFileSync(
            this.configFile,
            stringify({
                ...(file.encryptionsalt === undefined ? {} : { encryptionsalt: file.encryptionsalt }),
                config: { ...plain, ...keep },
            }),
        );
        for (const k of secretKeys) {
            const value = config[k];
            const seen = JSON.stringify(value);
            if (this.secretsSet.get(k) === seen) continue;
            if (typeof value === "string") {
                await this.cli(["config", "set", "--secret", "--raw", k, ...this.stackArgs()], true, value);
            } else if (typeof value === "object" && value !== null) {
                // A map of secrets (registryPasswords): one `--path` entry per key, as the README says.
                for (const [sub, v] of Object.entries(value as Record<string, unknown>)) {
                    await this.cli(
                        ["config", "set", "--secret", "--path", `${k}[${JSON.stringify(sub)}]`, ...this.stackArgs()],
                        true,
                        String(v),
                    );
                }
            } else {
                throw new Error(`secret ${k} must be a string or a map of strings`);
            }
            this.secretsSet.set(k, seen);
        }
        for (const k of [...this.secretsSet.keys()]) if (!secretKeys.includes(k)) this.secretsSet.delete(k);
    }

    private async run(verb: string[], log: string): Promise<{ status: number; out: string; events: EngineEvent[] }> {
        rmSync(log, { force: true });
        const r = await this.cli([...verb, ...this.stackArgs(), "--event-log", log], false);
        return { ...r, events: readEvents(log) };
    }

    /** `pulumi up --yes` with this config. */
    async up(config: Record<string, unknown>, secretKeys: readonly string[]): Promise<RunReport> {
        await this.configure(config, secretKeys);
        const r = await this.run(["up", "--yes", "--skip-preview", "--diff"], join(this.dir, "up.events"));
        return { ...this.report(r.events, r.out, r.status), outputs: r.status === 0 ? await this.outputs() : {} };
    }

    /** `pulumi preview`; with `expectNoChanges`, fails (status ≠ 0) when anything would change. */
    async preview(
        config: Record<string, unknown>,
        secretKeys: readonly string[],
        expectNoChanges = false,
    ): Promise<RunReport & { status: number }> {
        await this.configure(config, secretKeys);
        const r = await this.run(
            ["preview", "--diff", ...(expectNoChanges ? ["--expect-no-changes"] : [])],
            join(this.dir, "preview.events"),
        );
        return { ...this.report(r.events, r.out, r.status), outputs: {}, status: r.status };
    }

    /** `pulumi refresh --yes`: the names of the resources whose state the refresh changed. */
    async refresh(): Promise<string[]> {
        const before = await this.resourceOutputs();
        const names = await this.stepsOf("refresh", "update");
        const after = await this.resourceOutputs();
        this.lastRefreshDiffs = Object.fromEntries(
            names.map((n) => {
                const [a, b] = [before.get(n) ?? {}, after.get(n) ?? {}];
                const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
                return [n, keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort()];
            }),
        );
        return names;
    }

    /** The output properties the last refresh changed in state, by resource name. */
    lastRefreshDiffs: Record<string, string[]> = {};

    /** Every resource's outputs in state, by name (secrets decrypted in memory: compared, never printed). */
    async resourceOutputs(): Promise<Map<string, Record<string, unknown>>> {
        const r = await this.cli(["stack", "export", "--show-secrets", "--stack", this.stack], true);
        this.outputsSeen.pop();
        const doc = JSON.parse(r.out.slice(r.out.indexOf("{"))) as {
            deployment: { resources?: { urn: string; outputs?: Record<string, unknown> }[] };
        };
        return new Map((doc.deployment.resources ?? []).map((x) => [urnName(x.urn), x.outputs ?? {}]));
    }

    /** `pulumi destroy --yes`: the names of the resources the engine deleted. */
    async destroy(): Promise<string[]> {
        return this.stepsOf("destroy", "delete");
    }

    /** Runs `pulumi <verb> --yes`; the names of the (non-component) resources whose step was `op`. */
    private async stepsOf(verb: "refresh" | "destroy", op: string): Promise<string[]> {
        const r = await this.run([verb, "--yes", "--skip-preview"], join(this.dir, `${verb}.events`));
        if (r.status !== 0) throw new Error(`pulumi ${verb} failed:\n${r.out.slice(-6000)}`);
        const steps = r.events
            .map((e) => e.resOutputsEvent?.metadata)
            .filter((m): m is NonNullable<typeof m> => m !== undefined && m.op === op && !COMPONENT.test(m.type));
        return steps.map((m) => urnName(m.urn));
    }

    /** `pulumi stack export`: the state as stored (secrets encrypted). */
    async exportState(): Promise<string> {
        return (await this.cli(["stack", "export", "--stack", this.stack], true)).out;
    }

    /** Stack outputs with secrets shown. */
    async outputs(): Promise<Record<string, unknown>> {
        const r = await this.cli(["stack", "output", "--json", "--show-secrets", "--stack", this.stack], true);
        this.outputsSeen.pop();
        return JSON.parse(r.out.slice(r.out.indexOf("{"))) as Record<string, unknown>;
    }

    private report(events: EngineEvent[], log: string, status: number): Omit<RunReport, "outputs"> {
        const executed: string[] = [];
        const deleted: string[] = [];
        const replaced: string[] = [];
        const ops: Record<string, number> = {};
        for (const e of events) {
            const m = e.resOutputsEvent?.metadata;
            if (m === undefined || COMPONENT.test(m.type) || m.type.startsWith("pulumi:providers:")) continue;
            ops[m.op] = (ops[m.op] ?? 0) + 1;
            if (["create", "update", "replace", "create-replacement"].includes(m.op) && !executed.includes(urnName(m.urn))) {
                executed.push(urnName(m.urn));
            }
            if (m.op === "delete") deleted.push(urnName(m.urn));
            if (m.op === "replace") replaced.push(urnName(m.urn));
        }
        const failures = events
            .map((e) => e.diagnosticEvent)
            .filter((d): d is NonNullable<typeof d> => d !== undefined && d.severity === "error")
            .map((d) => ({ name: d.urn === undefined || d.urn === "" ? "(program)" : urnName(d.urn), message: d.message.trim() }))
            // The stack's summary line ("update failed") repeats what the resources said.
            .filter((f) => !/^update failed$/.test(f.message));
        if (status !== 0 && failures.length === 0) failures.push({ name: "(program)", message: log.slice(-4000) });
        return { executed, failures, deleted, replaced, log, ops };
    }

    /** Removes the backend and the stack file. */
    close(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }
}
