/**
 * `npm run bench:engine [-- --before <git ref>] [--runs N]` (root; after `npm run engine`): the real Pulumi CLI running
 * the program against booted test machines (the real-host harness: systemd-nspawn, sshd on 127.0.0.1, the
 * fixture k3s and the local mirror), a server and an agent: wall time of a fresh install, a no-change `up`
 * and a k3s version bump, at loopback latency and at ~100 ms RTT (a TCP proxy in front of each sshd that
 * delays every chunk 50 ms each way). Per host and run: the TCP connections and the channels its sshd
 * accepted, read from the machine's journal ("Accepted publickey", "Starting session"), and the
 * connections the proxy carried. With `--before <ref>`, the program at that commit runs the same runs in
 * the same process first (git archive; this checkout's node_modules), on machines booted the same way.
 * `--runs N` repeats the whole set N times (rows in run order: the fixture's API servers share the CPU with
 * the engine, so wall times vary from run to run). Prints Markdown tables for docs/benchmarks.md. A benchmark, not a test: it asserts only that each run
 * succeeded.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { K3S_UPGRADE, type Mirror, startMirror } from "../test/fixtures/artifacts";
import { bootMachine, generateKey, type Machine } from "../test/harness/machine";
import { PulumiCli } from "../test/harness/pulumi";
import { startTcpProxy, type TcpProxy } from "../test/harness/tcp-proxy";
import { stackFor } from "../test/real-host/common";

const REPO = join(__dirname, "..");

interface Counts {
    readonly connections: number;
    readonly channels: number;
    readonly proxied: number;
}

interface Row {
    readonly program: string;
    readonly latency: string;
    readonly run: string;
    readonly seconds: number;
    /** Per host: what its sshd accepted during the run. */
    readonly hosts: Counts[];
    readonly ops: Record<string, number>;
}

/** sshd's journal lines in a machine, read from this host (no SSH: the count must not count itself). */
function sshdJournal(m: Machine): string[] {
    for (const dir of ["/var/log/journal", "/run/log/journal"]) {
        const r = spawnSync("journalctl", ["--directory", m.hostPath(dir), "-q", "-o", "cat", "--no-pager"], {
            encoding: "utf8",
            maxBuffer: 256 * 2 ** 20,
        });
        const lines = r.status === 0 ? r.stdout.split("\n") : [];
        if (lines.some((l) => l.startsWith("Server listening"))) return lines;
    }
    throw new Error(`${m.name}: no sshd journal found`);
}

function counts(m: Machine, proxy: TcpProxy): Counts {
    const lines = sshdJournal(m);
    return {
        connections: lines.filter((l) => l.startsWith("Accepted publickey for ")).length,
        // "Starting session: forced-command (config) '…' for root from …": the machines' sshd has a ForceCommand.
        channels: lines.filter((l) => l.startsWith("Starting session: ")).length,
        proxied: proxy.connections(),
    };
}

async function measure(
    label: { program: string; latency: string; run: string },
    machines: Machine[],
    proxies: TcpProxy[],
    engine: PulumiCli,
    config: Record<string, unknown>,
): Promise<Row> {
    const before = machines.map((m, i) => counts(m, proxies[i]));
    const t0 = Date.now();
    const r = await engine.up(config, ["sshPrivateKey"]);
    const seconds = (Date.now() - t0) / 1000;
    if (r.failures.length > 0) throw new Error(`${JSON.stringify(label)}: ${JSON.stringify(r.failures).slice(0, 2000)}`);
    const hosts = machines.map((m, i) => {
        const now = counts(m, proxies[i]);
        return {
            connections: now.connections - before[i].connections,
            channels: now.channels - before[i].channels,
            proxied: now.proxied - before[i].proxied,
        };
    });
    return { ...label, seconds, hosts, ops: r.ops };
}

/** A server and an agent, reached through proxies delaying `delayMs` each way: fresh install, no change, k3s bump. */
async function scenario(program: { name: string; dir: string }, delayMs: number, mirror: Mirror): Promise<Row[]> {
    const machines: Machine[] = [];
    const proxies: TcpProxy[] = [];
    const engine = new PulumiCli(`bench-${process.pid}`);
    engine.programDir = program.dir;
    const latency = delayMs === 0 ? "loopback" : `${2 * delayMs} ms RTT`;
    try {
        // One key for every machine, as stackFor uses the first machine's for all hosts.
        const clientKey = generateKey(mkdtempSync(join(tmpdir(), "k3sbk-bench-")), "bench");
        for (let i = 0; i < 2; i++) {
            const m = await bootMachine(`k3sbk-bench-${i}`, { clientKey });
            machines.push(m);
            proxies.push(await startTcpProxy(m.port, delayMs));
        }
        const direct = stackFor(machines, mirror);
        // The same stack, every host's SSH port the proxy's.
        const base: Record<string, unknown> = {
            ...direct,
            hosts: (direct.hosts as Record<string, unknown>[]).map((h, i) => ({ ...h, port: proxies[i].port })),
        };
        const k3s = base.k3s as Record<string, unknown>;
        const label = (run: string) => ({ program: program.name, latency, run });
        const rows = [
            await measure(label("fresh install"), machines, proxies, engine, base),
            await measure(label("no change"), machines, proxies, engine, base),
            await measure(label(`k3s version bump (${K3S_UPGRADE})`), machines, proxies, engine, {
                ...base,
                k3s: { ...k3s, version: K3S_UPGRADE },
            }),
        ];
        await engine.destroy();
        return rows;
    } finally {
        engine.close();
        for (const p of proxies) await p.close();
        for (const m of machines) await m.stop();
    }
}

async function main(): Promise<void> {
    const at = process.argv.indexOf("--before");
    const programs = [{ name: "this tree", dir: REPO }];
    let old: string | undefined;
    if (at !== -1) {
        const ref = process.argv[at + 1];
        if (ref === undefined) throw new Error("usage: npm run bench:engine -- [--before <git ref>]");
        old = mkdtempSync(join(tmpdir(), "k3sbk-bench-old-"));
        execFileSync("bash", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", REPO, ref, old]);
        symlinkSync(join(REPO, "node_modules"), join(old, "node_modules"));
        const commit = execFileSync("git", ["-C", REPO, "rev-parse", "--short", ref], { encoding: "utf8" }).trim();
        programs.unshift({ name: commit, dir: old });
    }
    const mirror = await startMirror();
    const rows: Row[] = [];
    try {
        const r = process.argv.indexOf("--runs");
        const runs = r === -1 ? 1 : Number(process.argv[r + 1]);
        for (let k = 0; k < runs; k++) {
            for (const delayMs of [0, 50]) for (const p of programs) rows.push(...(await scenario(p, delayMs, mirror)));
        }
    } finally {
        await mirror.close();
        if (old !== undefined) rmSync(old, { recursive: true, force: true });
    }
    const cli = new PulumiCli("bench-version");
    const version = (await cli.cli(["version"], true)).out.trim();
    cli.close();
    console.log(
        `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, pulumi ${version}\n`,
    );
    console.log(
        "| Real CLI (`pulumi up`), server + agent | latency | run | wall time | TCP connections (server / agent) | channels (server / agent) | engine steps |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) {
        const ops = Object.entries(r.ops)
            .map(([op, n]) => `${op} ${n}`)
            .join(", ");
        const conns = r.hosts.map((h) => (h.connections === h.proxied ? `${h.connections}` : `${h.connections} (proxy: ${h.proxied})`));
        console.log(
            `| ${r.program} | ${r.latency} | ${r.run} | ${r.seconds.toFixed(1)} s | ${conns.join(" / ")} | ${r.hosts.map((h) => h.channels).join(" / ")} | ${ops} |`,
        );
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
