/**
 * `npm run upgrade:check -- <git ref>` (root): a stack made by the program at <ref>, upgraded to this
 * working tree, with the real Pulumi CLI on a booted machine (the real-host harness): `up` with the old
 * program (a server with a host build), then `preview` and `up` with this one. Prints what the upgrade
 * does: operations, replacements, the resources it changed, SSH sessions, which daemons restarted. Exits 1
 * when anything was replaced or a second preview is not empty. A measurement, not a test: it needs the git
 * history of <ref>.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMirror } from "../test/fixtures/artifacts";
import { bootMachine } from "../test/harness/machine";
import { PulumiCli } from "../test/harness/pulumi";
import { stackFor } from "../test/real-host/common";

const ref = process.argv[2];
if (ref === undefined) {
    console.error("usage: npm run upgrade:check -- <git ref>");
    process.exit(2);
}
const repo = join(__dirname, "..");

void (async () => {
    const old = mkdtempSync(join(tmpdir(), "k3sbk-old-"));
    execFileSync("bash", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", repo, ref, old]);
    symlinkSync(join(repo, "node_modules"), join(old, "node_modules"));
    const commit = execFileSync("git", ["-C", repo, "rev-parse", "--short", ref], { encoding: "utf8" }).trim();
    const mirror = await startMirror();
    const m = await bootMachine("k3sbk-upgrade");
    const engine = new PulumiCli();
    const ctx = mkdtempSync(join(tmpdir(), "k3sbk-upgrade-ctx-"));
    try {
        writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY motd /etc/motd\n");
        writeFileSync(join(ctx, "motd"), "upgrade\n");
        const config = stackFor([m], mirror, { hostBuilds: [{ name: "app", context: { dir: ctx }, tags: ["app:dev"] }] });
        engine.programDir = old;
        const first = await engine.up(config, ["sshPrivateKey"]);
        if (first.failures.length > 0) throw new Error(`the old program's up failed: ${JSON.stringify(first.failures)}`);
        console.log(`# ${ref} (${commit}): up ${JSON.stringify(first.ops)}`);
        engine.programDir = repo;
        const preview = await engine.preview(config, ["sshPrivateKey"]);
        const pids = await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service");
        const sessions = m.commandLines().length;
        const r = await engine.up(config, ["sshPrivateKey"]);
        if (r.failures.length > 0) throw new Error(`the upgrade failed: ${JSON.stringify(r.failures)}`);
        const upSessions = m.commandLines().length - sessions;
        const after = await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service");
        const [k3sBefore, bkBefore] = pids.trim().split(/\n+/);
        const [k3sAfter, bkAfter] = after.trim().split(/\n+/);
        console.log(`# upgrade to this tree: preview ${JSON.stringify(preview.ops)}, replaced: [${preview.replaced.join(", ")}]`);
        console.log(`# up ${JSON.stringify(r.ops)}, replaced: [${r.replaced.join(", ")}]`);
        console.log(`# resources that changed: ${r.executed.join(", ") || "none"}`);
        console.log(
            `# SSH sessions the up opened: ${upSessions}; k3s restarted: ${k3sBefore !== k3sAfter}; BuildKit restarted: ${bkBefore !== bkAfter} (MainPID ${bkBefore} → ${bkAfter})`,
        );
        const again = await engine.preview(config, ["sshPrivateKey"], true);
        console.log(`# then preview --expect-no-changes: exit ${again.status} ${JSON.stringify(again.ops)}`);
        if (r.replaced.length > 0 || (r.ops.replace ?? 0) > 0 || again.status !== 0) process.exitCode = 1;
    } finally {
        engine.close();
        await m.stop();
        await mirror.close();
        rmSync(old, { recursive: true, force: true });
        rmSync(ctx, { recursive: true, force: true });
    }
})();
