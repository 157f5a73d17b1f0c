/**
 * `npm run bench:preview -- [--hosts 100] [--before <git ref>]` (after `npm run engine`): the program's
 * evaluation under the real Pulumi CLI at scale. `pulumi preview` of a fresh stack of N hosts (one server,
 * N-1 agents at addresses nothing answers: a preview of creates contacts no host) on a throwaway local
 * backend: with the providers' serialized code cold (cache emptied), then cached. With `--before`, the
 * same two previews with the program at that commit (git archive, this checkout's node_modules) first.
 * Prints a Markdown table: wall time of each `pulumi preview`, the engine's steps, and the peak RSS of
 * the program's process (the highest VmHWM seen in /proc). A measurement, not a test.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROVIDER_CACHE_DIR } from "../components/dynamic-resource";
import { PulumiCli } from "../test/harness/pulumi";
import { FAKE_SSH_KEY } from "../tools/evaluate";
import { benchStack } from "./bench";

const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
};
const hosts = Number(arg("--hosts") ?? 100);
const before = arg("--before");
const repo = join(__dirname, "..");

/** The highest resident set of the program's process (`node …/@pulumi/pulumi/cmd/run`; one runs at a time here), sampled every 100 ms. */
function watchProgramRss(): () => number {
    let peak = 0;
    const timer = setInterval(() => {
        for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
            try {
                if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("@pulumi/pulumi/cmd/run")) continue;
                const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
                if (hwm !== null) peak = Math.max(peak, Number(hwm[1]) / 1024);
            } catch {
                // the process ended meanwhile
            }
        }
    }, 100);
    return () => {
        clearInterval(timer);
        return Math.round(peak);
    };
}

async function previews(label: string, programDir: string, cache: boolean): Promise<string[]> {
    const rows: string[] = [];
    const config = benchStack(hosts, { sshPrivateKey: FAKE_SSH_KEY });
    for (const run of cache ? ["cold", "cached"] : ["first", "second"]) {
        if (run === "cold") rmSync(PROVIDER_CACHE_DIR, { recursive: true, force: true });
        const engine = new PulumiCli(`bench-preview-${process.pid}-${rows.length}`);
        engine.programDir = programDir;
        await engine.init();
        const stop = watchProgramRss();
        const start = process.hrtime.bigint();
        const r = await engine.preview(config, ["sshPrivateKey"]);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const rss = stop();
        if (r.status !== 0) throw new Error(`pulumi preview failed (${r.status}):\n${engine.transcript().slice(-4000)}`);
        const steps = Object.entries(r.ops)
            .map(([op, n]) => `${op} ${n}`)
            .join(", ");
        rows.push(`| ${label} | ${hosts} | ${run} | ${seconds.toFixed(1)} s | ${rss} MiB | ${steps} |`);
        rmSync(engine.dir, { recursive: true, force: true });
    }
    return rows;
}

void (async () => {
    const rows = ["| Program | hosts | preview | wall time | program's peak RSS | engine steps |", "| --- | --- | --- | --- | --- | --- |"];
    if (before !== undefined) {
        const old = mkdtempSync(join(tmpdir(), "k3sbk-before-"));
        execFileSync("bash", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", repo, before, old]);
        symlinkSync(join(repo, "node_modules"), join(old, "node_modules"));
        const commit = execFileSync("git", ["-C", repo, "rev-parse", "--short", before], { encoding: "utf8" }).trim();
        try {
            rows.push(...(await previews(commit, old, false)));
        } finally {
            rmSync(old, { recursive: true, force: true });
        }
    }
    rows.push(...(await previews("this tree", repo, true)));
    console.log(rows.join("\n"));
    process.exit(0);
})();
