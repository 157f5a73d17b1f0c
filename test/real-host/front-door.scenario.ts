/**
 * The front door on a machine with no Pulumi CLI (npm run test:host): `npm run preview` / `npm run up` go
 * through scripts/pulumi.sh, which finds no `pulumi` on PATH and runs the engine scripts/engine.sh built
 * from Go modules, with the project's file backend. Shown here with the CLI's own commands (version, stack
 * creation); the program itself runs through the same engine in the other scenarios.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const REPO = join(__dirname, "..", "..");
const STATE = join(REPO, ".pulumi");
const hadState = existsSync(STATE);
// Creating the dev stack writes the passphrase's salt into Pulumi.dev.yaml, as it does for a user: undone after.
const devStack = readFileSync(join(REPO, "Pulumi.dev.yaml"));
after(() => {
    if (!hadState) rmSync(STATE, { recursive: true, force: true });
    writeFileSync(join(REPO, "Pulumi.dev.yaml"), devStack);
});

/** scripts/pulumi.sh with a PATH that has Go and the system's tools, but no pulumi. */
function wrapper(args: string[]) {
    return spawnSync("bash", ["scripts/pulumi.sh", ...args], {
        cwd: REPO,
        encoding: "utf8",
        env: { PATH: "/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin", HOME: process.env.HOME, PULUMI_CONFIG_PASSPHRASE: "front-door" },
    });
}

describe("the front door without a Pulumi CLI", () => {
    it("runs the engine built from Go modules at the @pulumi/pulumi version the lock file pins", () => {
        const locked = (
            JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as {
                packages: Record<string, { version: string }>;
            }
        ).packages["node_modules/@pulumi/pulumi"].version;
        const r = wrapper(["version"]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim().split("\n").pop(), `v${locked}`);
        assert.match(r.stderr, /^no Pulumi CLI on PATH: using the engine built by scripts\/engine\.sh$/m);
        assert.match(r.stderr, /^engine: pulumi +v[0-9.]+ +(cached|built) \(\d+\.\d s\)$/m);
        assert.match(r.stderr, /^no Pulumi backend configured: using the project's local backend file:\/\//m);
        // The dev stack was created in the project's own backend, as `npm run up` would use it.
        assert.match(readFileSync(join(REPO, "Pulumi.dev.yaml"), "utf8"), /^encryptionsalt: v1:/m);
        const ls = wrapper(["stack", "ls", "--json"]);
        assert.equal(ls.status, 0, ls.stderr);
        assert.deepEqual(
            (JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name),
            ["dev"],
        );
        console.log(
            `# front door: ${r.stderr
                .split("\n")
                .filter((l) => l.startsWith("engine:"))
                .join(" | ")}`,
        );
    });
});
