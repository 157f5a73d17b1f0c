/**
 * `npm run up` / `npm run preview` in a fresh clone (scripts/pulumi.sh), with a STUB `pulumi` on PATH that
 * records its calls and environment: the wrapper's own decisions (backend, stack, passphrase). The real
 * CLI behind it is run by the real-host scenarios (test/harness/pulumi.ts) and test/real-host/front-door.scenario.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const REPO = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "pulumi-wrapper-"));
after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(REPO, ".pulumi"), { recursive: true, force: true });
});

/** A stub CLI: `whoami` and `stack --show-name` succeed only when told to; every call is logged with the backend and passphrase. */
function stub(o: { loggedIn: boolean; stackSelected: boolean; runs?: boolean }): { path: string; log: string } {
    const bin = mkdtempSync(join(dir, "bin-"));
    const log = join(bin, "calls");
    writeFileSync(
        join(bin, "pulumi"),
        `#!/bin/bash
echo "$* | backend=\${PULUMI_BACKEND_URL:-} passphrase=\${PULUMI_CONFIG_PASSPHRASE:-}" >> "${log}"
case "$1" in
  version) ${o.runs === false ? "exit 1" : "echo v3.200.0"};;
  whoami) ${o.loggedIn ? "echo alice" : "echo 'error: PULUMI_ACCESS_TOKEN must be set' >&2; exit 255"};;
  stack) [ "$2" = --show-name ] && { ${o.stackSelected ? "echo prod" : "exit 255"}; };;
esac
exit 0
`,
        { mode: 0o755 },
    );
    return { path: `${bin}:/usr/bin:/bin`, log };
}

function run(s: { path: string }, args: string[], env: Record<string, string> = {}) {
    return spawnSync("bash", ["scripts/pulumi.sh", ...args], { cwd: REPO, encoding: "utf8", env: { PATH: s.path, HOME: dir, ...env } });
}

describe("npm run up / preview in a fresh clone", () => {
    it("with no backend: the project's .pulumi file backend, the dev stack created, the documented passphrase", () => {
        const s = stub({ loggedIn: false, stackSelected: false });
        const r = run(s, ["up"]);
        assert.equal(r.status, 0, r.stderr);
        const backend = `file://${REPO}/.pulumi`;
        assert.deepEqual(readFileSync(s.log, "utf8").trim().split("\n"), [
            "version | backend= passphrase=",
            "whoami | backend= passphrase=",
            `stack --show-name | backend=${backend} passphrase=k3s-buildkit-dev`,
            `stack select dev --create | backend=${backend} passphrase=k3s-buildkit-dev`,
            `up | backend=${backend} passphrase=k3s-buildkit-dev`,
        ]);
        assert.ok(existsSync(join(REPO, ".pulumi")));
        assert.match(r.stderr, /no Pulumi backend configured: using the project's local backend file:\/\//);
    });

    it("an existing login and stack are left alone (no backend override, no stack change, no passphrase set)", () => {
        const s = stub({ loggedIn: true, stackSelected: true });
        const r = run(s, ["preview", "--diff"]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(readFileSync(s.log, "utf8").trim().split("\n"), [
            "version | backend= passphrase=",
            "whoami | backend= passphrase=",
            "stack --show-name | backend= passphrase=",
            "preview --diff | backend= passphrase=",
        ]);
    });

    it("a passphrase the user set wins over the default; PULUMI_BACKEND_URL is respected", () => {
        const s = stub({ loggedIn: false, stackSelected: true });
        run(s, ["up"], { PULUMI_CONFIG_PASSPHRASE: "mine" });
        assert.match(readFileSync(s.log, "utf8"), /^up \| backend=file:\/\/.* passphrase=mine$/m);
        const t = stub({ loggedIn: false, stackSelected: true });
        run(t, ["up"], { PULUMI_BACKEND_URL: "s3://bucket" });
        assert.match(readFileSync(t.log, "utf8"), /^up \| backend=s3:\/\/bucket passphrase=$/m);
    });

    it("without a CLI that can run, the engine is built from Go modules; without Go either, one line says what to install", () => {
        const r = run(stub({ loggedIn: false, stackSelected: false, runs: false }), ["up"]);
        assert.equal(r.status, 1);
        assert.equal(
            r.stderr,
            "no Pulumi CLI on PATH: using the engine built by scripts/engine.sh\n" +
                "engine: no Go toolchain: install the Pulumi CLI (https://www.pulumi.com/docs/install/) or Go >= 1.26 to build it\n",
        );
    });
});
