/**
 * index.ts under Pulumi mocks: exactly the expected children for the dev stack and an SSH stack,
 * secrets kept secret, nothing created for bad config, and a preview with unknown outputs.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { ConfigError, PROJECT } from "../../components/config";
import { runnerCommand } from "../../components/host/connection";
import { scriptBody } from "../../components/host/scripts";
import { renderScript } from "../../components/host/shell";
import { isSecretValue, runProgram } from "./mocks";

/** Stack config of a Pulumi.<stack>.yaml, without the `k3s-buildkit:` prefix. */
function stackFile(name: string): Record<string, unknown> {
    const doc = parse(readFileSync(join(__dirname, "../..", `Pulumi.${name}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(`${PROJECT}:`, ""), v]));
}

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nthis-is-the-secret-key\n-----END OPENSSH PRIVATE KEY-----\n";
const preflight = renderScript(scriptBody("preflight"));

describe("index.ts under mocks", () => {
    it("the dev stack (this machine) creates one Host with its local preflight step, and nothing else", async () => {
        const { recorded, exports } = await runProgram(stackFile("dev"));
        const sudo = process.getuid?.() !== 0;
        assert.deepEqual(recorded, [
            { type: "k3s-buildkit:host:Host", name: "local", inputs: {}, custom: false },
            {
                type: "command:local:Command",
                name: "local-preflight",
                inputs: { create: runnerCommand(sudo), stdin: preflight, interpreter: ["/bin/sh", "-c"] },
                custom: true,
            },
        ]);
        const info = await new Promise((r) =>
            (exports.hostInfo as Record<string, { arch: { apply: (f: (v: string) => void) => void } }>).local.arch.apply(r),
        );
        assert.equal(info, "amd64");
    });

    it("an SSH stack: one Host and one remote preflight per host, the key secret, sudo for non-root users", async () => {
        const { recorded } = await runProgram(
            {
                sshPrivateKey: PRIVATE_KEY,
                hosts: [
                    { name: "server-1", address: "10.0.0.5", user: "debian", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" },
                    { name: "agent-1", role: "agent", address: "10.0.0.6", bastion: { address: "jump.example.com", user: "jump" } },
                ],
            },
            ["sshPrivateKey"],
        );
        assert.deepEqual(recorded.map((r) => `${r.type} ${r.name}`).sort(), [
            "command:remote:Command agent-1-preflight",
            "command:remote:Command server-1-preflight",
            "k3s-buildkit:host:Host agent-1",
            "k3s-buildkit:host:Host server-1",
        ]);
        const byName = (n: string) => recorded.find((r) => r.name === n)!.inputs;
        const server = byName("server-1-preflight");
        assert.equal(server.create, runnerCommand(true));
        assert.equal(server.stdin, preflight);
        assert.ok(isSecretValue(server.connection), "the connection, holding the key, is secret");
        assert.deepEqual((server.connection as { value: unknown }).value, {
            host: "10.0.0.5",
            port: 22,
            user: "debian",
            privateKey: PRIVATE_KEY,
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
            dialErrorLimit: 10,
            perDialTimeout: 15,
        });
        const agent = byName("agent-1-preflight");
        assert.equal(agent.create, "bash -s");
        assert.deepEqual((agent.connection as { value: Record<string, unknown> }).value.proxy, {
            host: "jump.example.com",
            port: 22,
            user: "jump",
            privateKey: PRIVATE_KEY,
            dialErrorLimit: 10,
            perDialTimeout: 15,
        });
        for (const r of recorded) {
            for (const [k, v] of Object.entries(r.inputs)) {
                if (k !== "connection") assert.ok(!JSON.stringify(v).includes("this-is-the-secret-key"), `${r.name}.${k} holds the key`);
            }
        }
    });

    it("invalid config throws one ConfigError listing every problem and registers nothing", async () => {
        let error: unknown;
        const run = runProgram({
            hosts: [
                { name: "Bad Name", address: "10.0.0.5" },
                { name: "x", connection: "lokal" },
            ],
        }).catch((e: unknown) => {
            error = e;
            return undefined;
        });
        const r = await run;
        assert.equal(r, undefined);
        assert.ok(error instanceof Error && error.name === "ConfigError", String(error));
        assert.equal(
            (error as ConfigError).message,
            [
                "invalid stack config (2 problems); nothing was changed:",
                '  - hosts[0].name: expected a lowercase DNS label of at most 40 characters (a-z, 0-9, \'-\'), like "server-1"; got "Bad Name"',
                '  - hosts[1].connection: must be one of "ssh", "local"; got "lokal"',
            ].join("\n"),
        );
    });

    it("a preview, where the preflight output is still unknown, constructs without error", async () => {
        const { recorded, exports } = await runProgram(stackFile("dev"), [], true);
        assert.deepEqual(
            recorded.map((r) => r.name),
            ["local", "local-preflight"],
        );
        assert.ok("hostInfo" in exports);
    });
});
