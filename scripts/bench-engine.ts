/**
 * `npm run bench:engine` (root; after `npm run engine`): the real Pulumi CLI running the program against
 * booted test machines (the real-host harness: systemd-nspawn, sshd on 127.0.0.1, the fixture k3s and the
 * local mirror), for one server and for a server with an agent: wall time of a fresh install, a no-change
 * `up` and a k3s version bump, and the SSH sessions each host accepted during each `up` (every session is
 * recorded by the machine's sshd ForceCommand; the program opens one connection per session). Prints a
 * Markdown table for docs/benchmarks.md. A benchmark, not a test: it asserts only that each run succeeded.
 */
import { mkdtempSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { K3S_UPGRADE, startMirror } from "../test/fixtures/artifacts";
import { bootMachine, generateKey, type Machine } from "../test/harness/machine";
import { PulumiCli } from "../test/harness/pulumi";
import { stackFor } from "../test/real-host/common";

interface Row {
    readonly stack: string;
    readonly run: string;
    readonly seconds: number;
    readonly sessions: number[];
    readonly ops: Record<string, number>;
}

async function measure(stack: string, machines: Machine[], engine: PulumiCli, run: string, config: Record<string, unknown>): Promise<Row> {
    const before = machines.map((m) => m.commandLines().length);
    const t0 = Date.now();
    const r = await engine.up(config, ["sshPrivateKey"]);
    const seconds = (Date.now() - t0) / 1000;
    if (r.failures.length > 0) throw new Error(`${stack} ${run}: ${JSON.stringify(r.failures).slice(0, 2000)}`);
    return { stack, run, seconds, sessions: machines.map((m, i) => m.commandLines().length - before[i]), ops: r.ops };
}

async function scenario(stack: string, count: number): Promise<Row[]> {
    const mirror = await startMirror();
    const machines: Machine[] = [];
    const engine = new PulumiCli(`bench-${count}`);
    try {
        // One key for every machine, as stackFor uses the first machine's for all hosts.
        const clientKey = generateKey(mkdtempSync(join(tmpdir(), "k3sbk-bench-")), "bench");
        for (let i = 0; i < count; i++) machines.push(await bootMachine(`k3sbk-bench-${i}`, { clientKey }));
        const base = stackFor(machines, mirror);
        const k3s = base.k3s as Record<string, unknown>;
        const rows = [
            await measure(stack, machines, engine, "fresh install", base),
            await measure(stack, machines, engine, "no change", base),
            await measure(stack, machines, engine, `k3s version bump (${K3S_UPGRADE})`, { ...base, k3s: { ...k3s, version: K3S_UPGRADE } }),
        ];
        await engine.destroy();
        return rows;
    } finally {
        engine.close();
        for (const m of machines) await m.stop();
        await mirror.close();
    }
}

async function main(): Promise<void> {
    const rows = [...(await scenario("1 server", 1)), ...(await scenario("server + agent", 2))];
    const cli = new PulumiCli("bench-version");
    const version = (await cli.cli(["version"], true)).out.trim();
    cli.close();
    console.log(
        `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, pulumi ${version}\n`,
    );
    console.log("| Real CLI (`pulumi up`) | run | wall time | SSH sessions per host | engine steps |");
    console.log("| --- | --- | --- | --- | --- |");
    for (const r of rows) {
        const ops = Object.entries(r.ops)
            .map(([op, n]) => `${op} ${n}`)
            .join(", ");
        console.log(`| ${r.stack} | ${r.run} | ${r.seconds.toFixed(1)} s | ${r.sessions.join(" / ")} | ${ops} |`);
    }
}

main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
});
