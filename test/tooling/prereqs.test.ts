/**
 * `npm test` on a fresh machine (scripts/test-prereqs.sh, npm's pretest): nothing when the tools are there;
 * as root, the package installer runs; as another user, one line with the command to run and exit 1.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const TOOLS = [
    "shellcheck",
    "systemd-analyze",
    "systemd-nspawn",
    "debootstrap",
    "ssh-keygen",
    "bwrap",
    "docker-registry",
    "htpasswd",
    "openssl",
    "busybox",
    "faketime",
    "go",
];
const dir = mkdtempSync(join(tmpdir(), "prereqs-"));
chmodSync(dir, 0o755); // readable by the unprivileged user of the last case
after(() => rmSync(dir, { recursive: true, force: true }));

/** A PATH with bash and coreutils, plus stubs for the given tools only. */
function pathWith(tools: readonly string[]): string {
    const bin = mkdtempSync(join(dir, "bin-"));
    chmodSync(bin, 0o755);
    for (const t of ["bash", "id", "dirname"])
        symlinkSync(spawnSync("bash", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim(), join(bin, t));
    for (const t of tools) writeFileSync(join(bin, t), "#!/bin/sh\n", { mode: 0o755 });
    return bin;
}

function run(path: string, asUid?: number) {
    const installer = join(dir, "installer.sh");
    writeFileSync(installer, `echo installed > ${join(dir, "installed")}\n`);
    const argv = ["bash", "scripts/test-prereqs.sh"];
    const cmd = asUid === undefined ? argv : ["/usr/bin/setpriv", `--reuid=${asUid}`, `--regid=${asUid}`, "--clear-groups", ...argv];
    return spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8", env: { PATH: path, K3SBK_INSTALL_DEPS: installer } });
}

describe("npm test's prerequisites check", () => {
    it("prints nothing and passes when every tool is there", () => {
        const r = run(pathWith(TOOLS));
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout + r.stderr, "");
    });

    it("without Go, stops at once saying what to install", () => {
        const r = run(pathWith(TOOLS.filter((t) => t !== "go")));
        assert.equal(r.status, 1);
        assert.equal(
            r.stderr,
            "npm test: Go >= 1.26 is needed (the tests build BuildKit, kube-apiserver, etcd and the Pulumi CLI from Go modules): install it, see https://go.dev/doc/install\n",
        );
    });

    it("as root, installs what is missing (says so in one line)", { skip: process.getuid?.() !== 0 ? "needs root" : false }, () => {
        const r = run(pathWith(TOOLS.filter((t) => t !== "bwrap" && t !== "docker-registry")));
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^npm test: installing the Debian packages the tests need \(missing: bwrap docker-registry\) with /);
        assert.equal(readFileSync(join(dir, "installed"), "utf8"), "installed\n");
    });

    it(
        "as another user, stops at once with the command to run",
        { skip: process.getuid?.() !== 0 ? "needs root to switch user" : false },
        () => {
            const r = run(pathWith(TOOLS.filter((t) => t !== "shellcheck")), 65534);
            assert.equal(r.status, 1);
            assert.equal(r.stdout, "");
            assert.equal(r.stderr, "npm test: missing shellcheck; run once as root:  sudo bash scripts/install-test-deps.sh\n");
        },
    );
});
