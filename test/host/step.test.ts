/**
 * Install steps (HostStep, HostUpload) and the k3s token: what registers, the diff rules that decide what
 * re-runs (a rotated key re-runs nothing; a changed script or host does; triggers replace), and the
 * providers run through the local connection (a real bash).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { HostConnection } from "../../components/host/connection";
import type { TransportTarget } from "../../components/host/runner";
import { hostCommand } from "../../components/host/step";
import { type HostStepInputs, hostStepProvider, hostUploadProvider, stepChanges, stepRerun } from "../../components/host/step-provider";
import { execScript } from "../../components/host/transport";
import { generateToken, parseToken, readTokenScript, tokenProvider } from "../../components/host/token";
import { isSecretValue, recordingMocks, settle } from "../../tools/evaluate";

const ssh: HostConnection = {
    config: { kind: "ssh", host: "10.0.0.5", port: 22, user: "debian", sudo: true, dialErrorLimit: 10, dialTimeoutSeconds: 15 },
    privateKey: pulumi.secret("KEY"),
};
const dir = mkdtempSync(join(tmpdir(), "k3sbk-step-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const sshTarget = (over: Partial<Extract<TransportTarget, { kind: "ssh" }>> = {}): TransportTarget => ({
    kind: "ssh",
    host: "10.0.0.5",
    port: 22,
    user: "debian",
    sudo: true,
    dialErrorLimit: 10,
    dialTimeoutSeconds: 15,
    privateKey: "KEY-1",
    ...over,
});
const step = (over: Partial<HostStepInputs> = {}): HostStepInputs => ({
    target: sshTarget(),
    create: "echo hi\n",
    delete: "",
    triggers: [],
    quiet: false,
    providerVersion: "0123456789abcdef",
    ...over,
});

describe("HostStep registration", () => {
    it("a step carrying a secret: the script and the target secret, quiet; nothing secret in plain inputs", async () => {
        const recorded = await recordingMocks();
        let seen: pulumi.CustomResourceOptions | undefined;
        hostCommand(
            "step",
            { connection: ssh, create: "echo token=hunter2\n", delete: "rm -f /etc/x\n", secretScript: true },
            { transformations: [(a) => ((seen = a.opts as pulumi.CustomResourceOptions), undefined)] },
        );
        await settle(recorded);
        const r = recorded[0];
        assert.equal(r.type, "pulumi-nodejs:dynamic/k3s-buildkit:HostStep");
        assert.ok(isSecretValue(r.inputs.create), "the script is secret");
        assert.ok(isSecretValue(r.inputs.target), "the target (with the key) is secret");
        assert.equal(r.inputs.delete, "rm -f /etc/x\n");
        assert.equal(r.inputs.quiet, true);
        assert.deepEqual(seen?.additionalSecretOutputs, ["target"]);
    });

    it("a step that prints a secret: plain script, stdout a secret output, quiet", async () => {
        const recorded = await recordingMocks();
        let seen: pulumi.CustomResourceOptions | undefined;
        hostCommand(
            "read",
            { connection: ssh, create: "cat /etc/secret\n", secretOutput: true },
            { transformations: [(a) => ((seen = a.opts as pulumi.CustomResourceOptions), undefined)] },
        );
        await settle(recorded);
        assert.equal(recorded[0].inputs.create, "cat /etc/secret\n");
        assert.equal(recorded[0].inputs.quiet, true);
        assert.deepEqual(seen?.additionalSecretOutputs, ["target", "stdout"]);
    });
});

describe("HostStep diff: what re-runs", () => {
    it("no change is no change", () => {
        assert.deepEqual(stepChanges(step(), step()), []);
    });
    it("a rotated key, a new passphrase or a pinned host key change state only: nothing re-runs", () => {
        for (const target of [
            sshTarget({ privateKey: "KEY-2" }),
            sshTarget({ privateKeyPassphrase: "pw" }),
            sshTarget({ hostKey: "ssh-ed25519 AAAA" }),
            sshTarget({ dialErrorLimit: 3 }),
        ]) {
            const changes = stepChanges(step(), step({ target }));
            assert.deepEqual(changes, ["credentials"]);
            assert.equal(stepRerun(changes), false);
        }
    });
    it("another address, port, user or bastion is another machine: create runs there", () => {
        for (const target of [
            sshTarget({ host: "10.0.0.6" }),
            sshTarget({ port: 2222 }),
            sshTarget({ user: "root" }),
            sshTarget({ bastion: { host: "jump", port: 22, user: "jump" } }),
        ]) {
            const changes = stepChanges(step(), step({ target }));
            assert.deepEqual(changes, ["target"]);
            assert.equal(stepRerun(changes), true);
        }
    });
    it("a changed script re-runs; a changed undo script or provider version does not", () => {
        assert.equal(stepRerun(stepChanges(step(), step({ create: "echo other\n" }))), true);
        assert.deepEqual(stepChanges(step(), step({ delete: "rm -f /x\n" })), ["delete"]);
        assert.equal(stepRerun(["delete", "providerVersion", "credentials"]), false);
    });
    it("changed triggers replace the step", async () => {
        const d = await hostStepProvider.diff!("id", { ...step(), stdout: "" }, step({ triggers: ["v2"] }));
        assert.deepEqual(d.replaces, ["triggers"]);
        const same = await hostStepProvider.diff!("id", { ...step(), stdout: "" }, step({ target: sshTarget({ privateKey: "KEY-2" }) }));
        assert.equal(same.changes, true);
        assert.deepEqual(same.replaces, []);
    });
});

describe("HostStep through the local connection", () => {
    const local: TransportTarget = { kind: "local", sudo: false };
    const counter = join(dir, "runs");
    const script = `echo run >> ${counter}\necho out=$((1 + 1))\n`;

    it("create runs the script and keeps its stdout; an update with new credentials only runs nothing; a new script runs", async () => {
        const created = await hostStepProvider.create(step({ target: local, create: script }));
        const outs = created.outs!;
        assert.equal(outs.stdout, "out=2\n");
        const updated = await hostStepProvider.update!(created.id, outs, {
            ...step({ target: local, create: script }),
            providerVersion: "next",
        });
        assert.equal(updated.outs?.stdout, "out=2\n");
        assert.equal(readFileSync(counter, "utf8"), "run\n", "ran once");
        await hostStepProvider.update!(created.id, outs, step({ target: local, create: `${script}echo again\n` }));
        assert.equal(readFileSync(counter, "utf8"), "run\nrun\n", "a new script runs");
    });

    it("delete runs the undo script; a step without one runs nothing", async () => {
        const marker = join(dir, "undone");
        await hostStepProvider.delete!("id", { ...step({ target: local, delete: `touch ${marker}\n` }), stdout: "" });
        assert.ok(existsSync(marker));
        await hostStepProvider.delete!("id", { ...step({ target: local }), stdout: "" });
    });

    it("a failing step names the exit code and its stderr; a quiet one shows no stderr (it may hold a secret)", async () => {
        await assert.rejects(
            hostStepProvider.create(step({ target: local, create: "echo visible >&2\nexit 3\n" })),
            (e: Error) => e.name === "TransportError" && /^local: step failed with exit code 3:\nvisible$/.test(e.message),
        );
        await assert.rejects(
            hostStepProvider.create(step({ target: local, create: "echo hunter2 >&2\nexit 4\n", quiet: true })),
            (e: Error) => e.message === "local: step failed with exit code 4",
        );
    });
});

describe("HostUpload", () => {
    it("copies a file through stdin, atomically, after checking its checksum", async () => {
        const src = join(dir, "images.tar");
        writeFileSync(src, "image bytes");
        const sha256 = createHash("sha256").update("image bytes").digest("hex");
        const dest = join(dir, "staged", "images.tar");
        const inputs = {
            target: { kind: "local", sudo: false } as TransportTarget,
            source: src,
            sha256,
            remotePath: dest,
            providerVersion: "1",
        };
        await hostUploadProvider.create(inputs);
        assert.equal(readFileSync(dest, "utf8"), "image bytes");
        await assert.rejects(hostUploadProvider.create({ ...inputs, sha256: "0".repeat(64) }), /changed while the program ran/);
        await hostUploadProvider.delete!("id", inputs);
        assert.ok(!existsSync(dest));
        const missing = await hostUploadProvider.check!(inputs, { ...inputs, source: "/nonexistent/images.tar", sha256: "" });
        assert.deepEqual(missing.failures, [
            { property: "source", reason: "/nonexistent/images.tar: no such file, or not readable, on the machine that runs Pulumi" },
        ]);
    });
});

describe("k3s token", () => {
    it("48 characters of [A-Za-z0-9], different every time", () => {
        const a = generateToken(48);
        assert.match(a, /^[A-Za-z0-9]{48}$/);
        assert.notEqual(a, generateToken(48));
    });

    it("only the length makes a new token; new credentials update state; another first server changes nothing", async () => {
        const olds = {
            target: sshTarget(),
            configPath: "/etc/rancher/k3s/config.yaml",
            length: 48,
            providerVersion: "1",
            result: "t",
            adopted: false,
        };
        const diff = (over: Record<string, unknown>) => tokenProvider.diff!("k3s-token", olds, { ...olds, ...over });
        assert.deepEqual(await diff({}), { changes: false, replaces: [] });
        assert.deepEqual(await diff({ target: sshTarget({ privateKey: "KEY-2" }) }), { changes: true, replaces: [] });
        assert.deepEqual(await diff({ target: sshTarget({ host: "10.0.0.9" }) }), { changes: false, replaces: [] });
        assert.deepEqual(await diff({ length: 64 }), { changes: true, replaces: ["length"] });
        const updated = await tokenProvider.update!("k3s-token", olds, { ...olds, target: sshTarget({ privateKey: "KEY-2" }) });
        assert.equal(updated.outs?.result, "t", "the token is kept");
    });

    it("an existing token is read off the server's config.yaml (plain or quoted); anything else is not adopted", async () => {
        const config = join(dir, "config.yaml");
        const read = async () => parseToken((await execScript({ kind: "local", sudo: false }, readTokenScript(config))).stdout);
        assert.equal(await read(), undefined, "no file: nothing to adopt");
        writeFileSync(config, "node-name: s1\ntoken: SRsDmXqZN1s6c0Y1oDeOhFUPGTXRpDOC\ntls-san:\n  - 10.0.0.5\n");
        assert.equal(await read(), "SRsDmXqZN1s6c0Y1oDeOhFUPGTXRpDOC");
        writeFileSync(config, `token: "abcdefghijklmnop1234"\n`);
        assert.equal(await read(), "abcdefghijklmnop1234");
        for (const bad of ["token: short\n", "token: $(reboot)xxxxxxxxxxxxxxxx\n", "server: x\n"]) {
            writeFileSync(config, bad);
            assert.equal(await read(), undefined, bad);
        }
    });
});
