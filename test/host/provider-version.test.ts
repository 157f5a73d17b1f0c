/**
 * Dynamic provider versions are derived from the providers' serialized code: the same in every
 * process (else every `up` would update every resource), different for different code, and a change of
 * the version alone is a state-only update in each provider (no step on a host).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileChanges, STATE_ONLY } from "../../components/host/host-file-provider";
import { serviceChanges } from "../../components/host/host-service-provider";
import { stepChanges, stepRerun } from "../../components/host/step-provider";
import { providerVersion } from "../../components/provider-version";
import { versions } from "./provider-versions.print";

/** The versions as a fresh process derives them (the way each `pulumi up` does). */
const inOtherProcess = (): Record<string, string> =>
    JSON.parse(
        execFileSync(process.execPath, ["--import", "tsx", join(__dirname, "provider-versions.print.ts")], { encoding: "utf8" }),
    ) as Record<string, string>;

describe("derived provider versions", () => {
    it("are the same in every process, and differ between providers", async () => {
        const here = await versions();
        for (const v of Object.values(here)) assert.match(v, /^[0-9a-f]{16}$/);
        assert.equal(new Set(Object.values(here)).size, 7, "each provider's code has its own version");
        assert.deepEqual(inOtherProcess(), here, "another process derives the same versions");
        assert.deepEqual(inOtherProcess(), here, "and another");
    });

    it("a changed provider gives another version", async () => {
        const a = { create: () => Promise.resolve({ id: "a" }) };
        const b = { create: () => Promise.resolve({ id: "b" }) };
        assert.notEqual(await providerVersion(a), await providerVersion(b));
    });

    it("a version change alone runs nothing on a host: files, services and steps update state only", () => {
        assert.ok(STATE_ONLY.includes("providerVersion"));
        const target = { kind: "local" as const, sudo: false };
        assert.deepEqual(
            fileChanges(
                {
                    target,
                    path: "/etc/x",
                    mode: "0644",
                    owner: "root",
                    group: "root",
                    providerVersion: "1",
                    present: true,
                    sha256: createHash("sha256").update("x").digest("hex"),
                },
                { target, path: "/etc/x", content: "x", mode: "0644", owner: "root", group: "root", providerVersion: "2" },
            ),
            ["providerVersion"],
        );
        const unit = { target, unit: "k3s.service", enabled: true, active: true, stopOnDelete: true, restartTriggers: [] };
        assert.deepEqual(serviceChanges({ ...unit, providerVersion: "1" }, { ...unit, providerVersion: "2" }), ["providerVersion"]);
        const step = { target, create: "true\n", delete: "", triggers: [], quiet: false };
        const changes = stepChanges({ ...step, providerVersion: "1" }, { ...step, providerVersion: "2" });
        assert.deepEqual(changes, ["providerVersion"]);
        assert.equal(stepRerun(changes), false, "the create script does not run again");
    });
});

describe("a provider's version follows its modules", () => {
    it("changes when a module the provider's module loads changes, not when an unrelated one does", async () => {
        const { mkdtempSync, writeFileSync, mkdirSync } = await import("node:fs");
        const { tmpdir } = await import("node:os");
        /** A provider module requiring a helper module, in a fresh directory (so a fresh module graph). */
        const load = (helper: string, unrelated: string): Parameters<typeof providerVersion>[0] => {
            const dir = mkdtempSync(join(tmpdir(), "k3sbk-pv-"));
            mkdirSync(join(dir, "lib"));
            writeFileSync(join(dir, "lib", "helper.js"), helper);
            writeFileSync(join(dir, "unrelated.js"), unrelated);
            writeFileSync(
                join(dir, "provider.js"),
                'const { greet } = require("./lib/helper");\nexports.provider = { create: async () => ({ id: greet() }) };\n',
            );
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            require(join(dir, "unrelated.js"));
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            return (require(join(dir, "provider.js")) as { provider: Parameters<typeof providerVersion>[0] }).provider;
        };
        const a = await providerVersion(load('exports.greet = () => "a";\n', "1;\n"));
        const same = await providerVersion(load('exports.greet = () => "a";\n', "2;\n"));
        const b = await providerVersion(load('exports.greet = () => "b";\n', "1;\n"));
        assert.equal(same, a, "another directory, an unrelated module changed: the same version");
        assert.notEqual(b, a, "the helper changed: another version");
    });
});
