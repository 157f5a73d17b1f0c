/**
 * `npm run bench`: measures the program offline (under Pulumi's mocks) and prints a Markdown table:
 * evaluation time (median of 3) and peak memory by number of hosts and of builds (each run in its own
 * process; with the providers' serialized code cached, and cold), resources and
 * remote commands per host on a fresh install, the longest chain of remote commands (the critical path
 * of a fresh `up`), inputs changed by a re-run with no change, and the blast radius of typical changes,
 * including one build's context and, for builds, how many builds would run; for a k3s upgrade of 3 servers
 * and 2 agents, how many k3s restarts can run at once and how many remote steps run in sequence.
 * Copy the output into docs/benchmarks.md with the machine it ran on.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { PROVIDER_CACHE_DIR } from "../components/dynamic-resource";
import { FAKE_SSH_KEY as KEY, diffRuns, type RecordedWithDeps, restartWindows, runPlatform, schedule } from "../tools/evaluate";

/** A stack of `n` hosts: one server, n-1 agents. */
export function benchStack(n: number, over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        sshPrivateKey: KEY,
        hosts: Array.from({ length: n }, (_, i) => ({
            name: i === 0 ? "server-1" : `agent-${i}`,
            role: i === 0 ? "server" : "agent",
            address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
        })),
        ...over,
    };
}

/** Resources that run a step on a host (one SSH session each on a fresh install); FirstServer only records. */
const isRemoteStep = (r: RecordedWithDeps) => r.type.startsWith("pulumi-nodejs:dynamic/k3s-buildkit:") && !r.type.endsWith(":FirstServer");

/** Longest chain of remote steps through explicit dependencies (and parents' dependencies). */
function criticalPath(rs: RecordedWithDeps[]): { length: number; chain: string[] } {
    const byName = new Map<string, RecordedWithDeps[]>();
    for (const r of rs) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    const memo = new Map<string, { length: number; chain: string[] }>();
    const longest = (r: RecordedWithDeps): { length: number; chain: string[] } => {
        const key = `${r.type} ${r.name}`;
        const m = memo.get(key);
        if (m !== undefined) return m;
        let best = { length: 0, chain: [] as string[] };
        for (const d of r.dependsOn) {
            for (const dep of byName.get(d) ?? []) {
                const c = longest(dep);
                if (c.length > best.length) best = c;
            }
        }
        const own = isRemoteStep(r) ? { length: best.length + 1, chain: [...best.chain, r.name] } : best;
        memo.set(key, own);
        return own;
    };
    let best = { length: 0, chain: [] as string[] };
    for (const r of rs) {
        const c = longest(r);
        if (c.length > best.length) best = c;
    }
    return best;
}

/** One local host and `n` in-cluster builds with inline contexts (distinct Dockerfiles). */
export function buildStack(n: number, change?: number): Record<string, unknown> {
    return {
        hosts: [{ name: "local", connection: "local" }],
        builds: Array.from({ length: n }, (_, i) => ({
            name: `app-${i}`,
            context: { files: { Dockerfile: `FROM alpine\nRUN <<EOT\necho ${i}${i === change ? " changed" : ""} > /v\nEOT\n` } },
            tags: [`registry.example.com/team/app-${i}:1`],
        })),
    };
}

/** Runs of each size; the table gives the median time and the highest peak RSS (this machine kind's timings vary by ±20 %). */
const RUNS = 3;

type Measured = { ms: number; rssMiB: number; resources: number };

/** One evaluation in its own process. */
function runChild(kind: "hosts" | "builds", n: number): Measured {
    const out = execFileSync(process.execPath, ["--import", "tsx", __filename, "--child", kind, String(n)], {
        encoding: "utf8",
        maxBuffer: 1 << 26,
    });
    return JSON.parse(out.trim().split("\n").pop() ?? "{}") as Measured;
}

/**
 * {@link RUNS} evaluations: `cached` with the providers' serialized code in the cache (filled by one run
 * before), else cold, the cache emptied before each (the first evaluation after `npm ci` or a change of
 * the providers' code).
 */
function measureChild(kind: "hosts" | "builds", n: number, cached: boolean): Measured {
    if (cached) runChild(kind, n);
    const runs = Array.from({ length: RUNS }, () => {
        if (!cached) rmSync(PROVIDER_CACHE_DIR, { recursive: true, force: true });
        return runChild(kind, n);
    });
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(RUNS / 2)];
    return { ms, rssMiB: Math.max(...runs.map((r) => r.rssMiB)), resources: runs[0].resources };
}

async function child(kind: string, n: number): Promise<void> {
    const start = process.hrtime.bigint();
    const { recorded } = kind === "builds" ? await runPlatform(buildStack(n)) : await runPlatform(benchStack(n), ["sshPrivateKey"]);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const rssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify({ ms: Math.round(ms), rssMiB: Math.round(rssMiB), resources: recorded.length }));
    process.exit(0);
}

interface CpuProfile {
    readonly nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    readonly samples: number[];
    readonly timeDeltas: number[];
}

/** Where a profile node's code lives: a package, this program, Node itself, or the VM's own work. */
function area(url: string, fn: string): string {
    if (url === "") return fn.startsWith("(") ? fn : "(native)";
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (pkg !== null) return pkg[1];
    if (url.startsWith("node:")) return "node internals";
    const own = /\/(components|tools|index\.ts|scripts)\b/.exec(url);
    return own === null ? url : `this program (${own[1]})`;
}

/**
 * `npm run bench -- --profile hosts 100` (or `builds 200`): one evaluation under `--cpu-prof`, and the
 * entries with the most self time: by function, and by package (GC, module loading and the VM count as
 * their own entries).
 */
async function profile(kind: "hosts" | "builds", n: number): Promise<void> {
    runChild(kind, n); // the providers' code cached, as on every run but the first
    const dir = mkdtempSync(join(tmpdir(), "k3sbk-profile-"));
    const out = execFileSync(
        process.execPath,
        ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--import", "tsx", __filename, "--child", kind, String(n)],
        {
            encoding: "utf8",
            maxBuffer: 1 << 26,
        },
    );
    const measured = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ms: number; rssMiB: number; resources: number };
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (file === undefined) throw new Error(`no profile written in ${dir}`);
    const prof = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    rmSync(dir, { recursive: true, force: true });
    const byId = new Map(prof.nodes.map((nd) => [nd.id, nd.callFrame]));
    const fns = new Map<string, number>();
    const areas = new Map<string, number>();
    let total = 0;
    prof.samples.forEach((id, k) => {
        const us = prof.timeDeltas[k] ?? 0;
        const f = byId.get(id);
        if (f === undefined) return;
        total += us;
        const short = f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(components|tools|scripts)\//, "$1/");
        const key = f.url === "" ? f.functionName : `${f.functionName || "(anonymous)"} ${short}:${f.lineNumber + 1}`;
        fns.set(key, (fns.get(key) ?? 0) + us);
        const a = area(f.url, f.functionName);
        areas.set(a, (areas.get(a) ?? 0) + us);
    });
    const top = (m: Map<string, number>, count: number) =>
        [...m.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, count)
            .map(([k, us]) => `| ${k.replace(/\|/g, "\\|")} | ${(us / 1000).toFixed(0)} ms | ${((100 * us) / total).toFixed(1)} % |`);
    console.log(
        `Profile of one evaluation, ${n} ${kind}: ${measured.resources} resources, ${measured.ms} ms, peak RSS ${measured.rssMiB} MiB (under --cpu-prof, providers' code cached)\n`,
    );
    console.log("| Self time by package | time | share |", "\n| --- | --- | --- |");
    console.log(top(areas, 12).join("\n"));
    console.log("\n| Self time by function | time | share |", "\n| --- | --- | --- |");
    console.log(top(fns, 15).join("\n"));
}

async function main(): Promise<void> {
    const rows: string[] = [];
    const line = (k: string, v: string | number) => rows.push(`| ${k} | ${v} |`);
    rows.push(
        `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
        "",
    );
    rows.push(
        "| Program evaluation (mocks) | size | resources | time | peak RSS | time, cold | peak RSS, cold |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    );
    const sizes: [kind: "hosts" | "builds", n: number, label: string][] = [
        ...[1, 10, 100].map((n): ["hosts", number, string] => ["hosts", n, `${n} host${n === 1 ? "" : "s"}`]),
        ...[1, 50, 200].map((n): ["builds", number, string] => ["builds", n, `1 host, ${n} build${n === 1 ? "" : "s"}`]),
    ];
    for (const [kind, n, label] of sizes) {
        const cold = measureChild(kind, n, false);
        const m = measureChild(kind, n, true);
        rows.push(`| fresh evaluation | ${label} | ${m.resources} | ${m.ms} ms | ${m.rssMiB} MiB | ${cold.ms} ms | ${cold.rssMiB} MiB |`);
    }
    rows.push("", "| Measure | Value |", "| --- | --- |");
    const { recorded } = await runPlatform(benchStack(2, { cluster: { enabled: false } }), ["sshPrivateKey"]);
    for (const host of ["server-1", "agent-1"]) {
        const own = recorded.filter((r) => r.name === host || r.name.startsWith(`${host}-`));
        const remote = own.filter(isRemoteStep);
        line(`resources on ${host === "server-1" ? "the first server" : "an agent"}`, own.length);
        line(
            `remote commands for ${host === "server-1" ? "the first server" : "an agent (its Ready check runs on the first server)"} (fresh install)`,
            remote.length,
        );
    }
    const cp = criticalPath(recorded);
    line("longest chain of remote commands (server + agent)", `${cp.length}: ${cp.chain.join(" → ")}`);
    const base = benchStack(2, { cluster: { enabled: false } });
    const run = async (v: Record<string, unknown>) => (await runPlatform(v, ["sshPrivateKey"])).recorded;
    const a = await run(base);
    const count = (d: ReturnType<typeof diffRuns>) => `${d.changed.length} changed, ${d.added.length} added, ${d.removed.length} removed`;
    line("inputs changed by a re-run with no change", count(diffRuns(a, await run(base))));
    const changes: [string, Record<string, unknown>][] = [
        ["build mirror (registries.docker.io.mirrors)", { registries: { "docker.io": { mirrors: ["m.example.com"] } } }],
        ["BuildKit version", { buildkit: { version: "v0.33.0" } }],
        ["k3s version", { k3s: { version: "v1.36.1+k3s1" } }],
    ];
    for (const [label, over] of changes) {
        const d = diffRuns(a, await run({ ...base, ...over }));
        line(`blast radius: ${label}`, `${count(d)} (${d.changed.join(", ")})`);
    }
    const grown = await run({ ...base, hosts: [...(base.hosts as unknown[]), { name: "agent-2", role: "agent", address: "10.0.0.9" }] });
    line("blast radius: adding an agent", count(diffRuns(a, grown)));
    // Rolling restarts: the engine's order for a k3s bump on 3 servers + 2 agents (tools/evaluate schedule).
    const ha = (over: Record<string, unknown> = {}) => ({
        ...benchStack(5, { cluster: { enabled: false } }),
        hosts: ["s1", "s2", "s3", "a1", "a2"].map((name, i) => ({
            name,
            role: name.startsWith("s") ? "server" : "agent",
            address: `10.0.1.${i + 1}`,
        })),
        ...over,
    });
    for (const concurrency of [1, 2]) {
        const upgrade = { upgrade: { agentConcurrency: concurrency } };
        const slots = schedule(await run(ha({ k3s: upgrade })), await run(ha({ k3s: { ...upgrade, version: "v1.36.1+k3s1" } })));
        const { maxAtOnce } = restartWindows(slots, ["s1", "s2", "s3", "a1", "a2"]);
        const steps = Math.max(...[...slots.values()].map((x) => x.end));
        const label = `3 servers + 2 agents, agentConcurrency ${concurrency}`;
        line(`k3s restarts at once during an upgrade (${label})`, maxAtOnce);
        line(`upgrade critical path: remote steps in sequence (${label})`, steps);
    }
    const b0 = (await runPlatform(buildStack(50))).recorded;
    const rebuilds = (rs: RecordedWithDeps[]) => {
        const jobOf = (x: RecordedWithDeps[]) =>
            new Map(x.filter((r) => r.type.endsWith(":BuildResult")).map((r) => [r.name, String(r.inputs.jobName)]));
        const before = jobOf(b0);
        return [...jobOf(rs)].filter(([n, j]) => before.get(n) !== j).length;
    };
    const b1 = (await runPlatform(buildStack(50, 7))).recorded;
    const d1 = diffRuns(b0, b1);
    line("blast radius: one build's context (of 50 builds)", `${count(d1)} (${d1.changed.join(", ")}); builds run: ${rebuilds(b1)}`);
    const b2 = (await runPlatform({ ...buildStack(50), buildkit: { version: "v0.33.0" } })).recorded;
    const d2 = diffRuns(b0, b2);
    const jobs = d2.changed.filter((n) => n.endsWith("-job")).length;
    line(
        "blast radius: BuildKit version (50 builds)",
        `${count(d2)}: ${d2.changed.length - jobs} host and daemon resources, and ${jobs} Jobs' specs (left alone: ignoreChanges spec); builds run: ${rebuilds(b2)}`,
    );
    line("inputs changed by a re-run with no change (50 builds)", count(diffRuns(b0, (await runPlatform(buildStack(50))).recorded)));
    console.log(rows.join("\n"));
    process.exit(0);
}

if (require.main === module) {
    const i = process.argv.indexOf("--child");
    const p = process.argv.indexOf("--profile");
    void (i >= 0
        ? child(process.argv[i + 1], Number(process.argv[i + 2]))
        : p >= 0
          ? profile(process.argv[p + 1] === "builds" ? "builds" : "hosts", Number(process.argv[p + 2] ?? 100))
          : main());
}
