/**
 * HostFile and SystemdService as Pulumi resources (under mocks): what they register, that secrets
 * stay secret, that the serialized provider code is loadable, and the pure diff/parse functions.
 * The scripts themselves pass shellcheck.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { HostConnection } from "../../components/host/connection";
import { providerVersion, serializedProvider } from "../../components/provider-version";
import {
    checkFileInputs,
    deleteFileScript,
    fileChanges,
    hostFileProvider,
    type HostFileState,
    parseReadOutput,
    readFileScript,
    sha256Hex,
    writeFileScript,
} from "../../components/host/host-file-provider";
import { HostFile } from "../../components/host/host-file";
import { SystemdService } from "../../components/host/host-service";
import {
    applyServiceScript,
    deleteServiceScript,
    parseServiceOutput,
    readServiceScript,
} from "../../components/host/host-service-provider";
import { runnerCommand } from "../../components/host/runner";
import { buildkitCacheUsageProvider, cacheUsageScript } from "../../components/host/cache-usage-provider";
import { certificateCheckScript, certificateRotateScript, k3sCertificatesProvider } from "../../components/host/certificates-provider";
import { scriptBody } from "../../components/host/scripts";
import { renderScript } from "../../components/render/shell";
import { isSecretValue, recordingMocks, setStackConfig, settle } from "../../tools/evaluate";

const sshConnection: HostConnection = {
    config: { kind: "ssh", host: "10.0.0.5", port: 22, user: "debian", sudo: true, dialErrorLimit: 10, dialTimeoutSeconds: 15 },
    privateKey: pulumi.secret("PRIVATE-KEY"),
};

function shellcheck(script: string): string {
    try {
        execFileSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: script, encoding: "utf8" });
        return "";
    } catch (e) {
        return String((e as { stdout?: string }).stdout ?? e);
    }
}

describe("HostFile under mocks", () => {
    it("registers a dynamic resource with a secret target, secret content kept secret, and its provider version", async () => {
        const recorded = await recordingMocks();
        let seen: pulumi.ResourceOptions | undefined;
        new HostFile(
            "f",
            { connection: sshConnection, path: "/etc/x.conf", content: pulumi.secret("token=abc"), mode: "0600" },
            { transformations: [(a) => ((seen = a.opts), undefined)] },
        );
        await settle(recorded);
        assert.equal(recorded.length, 1);
        const r = recorded[0];
        assert.equal(r.type, "pulumi-nodejs:dynamic/k3s-buildkit:HostFile");
        assert.ok(isSecretValue(r.inputs.target), "the target holds the private key and is secret");
        assert.ok(isSecretValue(r.inputs.content), "secret content stays secret");
        assert.equal(r.inputs.path, "/etc/x.conf");
        assert.equal(r.inputs.mode, "0600");
        assert.equal(r.inputs.owner, "root");
        // The version is derived from the code Pulumi stores in state (`__provider`): the same serialization,
        // but for the factory arrow's own text (`() => provider`), which each compiler prints its way.
        assert.equal(typeof r.inputs.__provider, "string");
        assert.equal(r.inputs.providerVersion, await providerVersion(hostFileProvider));
        const factory = /\(\)\s*=>\s*provider;/g;
        assert.equal((await serializedProvider(hostFileProvider)).replace(factory, "F"), String(r.inputs.__provider).replace(factory, "F"));
        assert.deepEqual(
            (seen as pulumi.CustomResourceOptions).additionalSecretOutputs,
            ["target", "sha256"],
            "the engine keeps these outputs secret",
        );
    });

    it("the serialized provider code loads and works on its own (as the engine runs it from state)", async () => {
        const recorded = await recordingMocks();
        new HostFile("f", { connection: { config: { kind: "local", sudo: false } }, path: "/etc/x.conf", content: "x" });
        await settle(recorded);
        const code = recorded[0].inputs.__provider as string;
        // The engine's dynamic-provider host loads this text as a module (resolving packages from the
        // project's node_modules) and calls its handler.
        const dir = mkdtempSync(join(__dirname, "../../node_modules/.k3sbk-provider-"));
        writeFileSync(join(dir, "provider.js"), code);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const loaded = require(join(dir, "provider.js")) as {
            handler: () => { check: (o: object, n: object) => Promise<{ failures: unknown[] }> };
        };
        const provider = loaded.handler();
        rmSync(dir, { recursive: true, force: true });
        const result = await provider.check({}, { path: "relative", mode: "999", owner: "root", group: "root" });
        assert.deepEqual(result.failures, [
            {
                property: "path",
                reason: 'expected an absolute file path of plain characters, like /etc/buildkit/buildkitd.toml; got "relative"',
            },
            { property: "mode", reason: 'expected an octal mode like "0644"; got "999"' },
        ]);
    });

    it("the readers' serialized code reads on its own: K3sCertificates and BuildkitCacheUsage, through a local target", async () => {
        // A provider method that shares a name with a module-level helper it calls is serialized as calling
        // itself; only running the serialized text shows it (the engine's ReferenceError on refresh).
        const bin = mkdtempSync(join(tmpdir(), "k3sbk-readers-"));
        writeFileSync(join(bin, "k3s"), '#!/bin/sh\necho \'{"Certificates":[{"ExpiryTime":"2027-06-01T00:00:00Z"}]}\'\n', { mode: 0o755 });
        writeFileSync(join(bin, "buildctl"), '#!/bin/sh\necho \'[{"size":7,"inUse":false}]\'\n', { mode: 0o755 });
        const path = process.env.PATH;
        process.env.PATH = `${bin}:${path ?? ""}`;
        try {
            const load = async (provider: pulumi.dynamic.ResourceProvider) => {
                const dir = mkdtempSync(join(__dirname, "../../node_modules/.k3sbk-provider-"));
                writeFileSync(join(dir, "provider.js"), await serializedProvider(provider));
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const loaded = require(join(dir, "provider.js")) as {
                    handler: () => { read: (id: string, p: object) => Promise<{ props: Record<string, unknown> }> };
                };
                rmSync(dir, { recursive: true, force: true });
                return loaded.handler();
            };
            const target = { kind: "local", sudo: false };
            const certs = await (await load(k3sCertificatesProvider)).read("c", { target, dataDir: "/data/k3s", providerVersion: "v" });
            assert.equal(certs.props.expiresAt, "2027-06-01T00:00:00Z");
            const usage = await (
                await load(buildkitCacheUsageProvider)
            ).read("u", { target, address: "unix:///x.sock", providerVersion: "v" });
            assert.deepEqual([usage.props.available, usage.props.totalBytes, usage.props.records], [true, 7, 1]);
        } finally {
            process.env.PATH = path;
            rmSync(bin, { recursive: true, force: true });
        }
    });

    it("the serialized provider code carries no stack config, no secret and no Pulumi SDK", async () => {
        const recorded = await recordingMocks();
        setStackConfig({ sshPrivateKey: "MARKER-SECRET-IN-CONFIG", hosts: [{ name: "s1", address: "10.0.0.5" }] }, ["sshPrivateKey"]);
        new HostFile("f", { connection: sshConnection, path: "/etc/x.conf", content: "x" });
        new SystemdService("s", { connection: sshConnection, unit: "buildkit.socket" });
        await settle(recorded);
        assert.equal(recorded.length, 2);
        for (const r of recorded) {
            const code = r.inputs.__provider as string;
            assert.ok(!code.includes("MARKER-SECRET-IN-CONFIG"), `${r.name}: a config secret is in the serialized provider`);
            assert.ok(!code.includes("PRIVATE-KEY"), `${r.name}: the connection's key is in the serialized provider`);
            assert.ok(!code.includes("@pulumi/pulumi"), `${r.name}: the serialized provider pulls in the Pulumi SDK`);
        }
    });

    it("SystemdService registers with defaults and a secret target", async () => {
        const recorded = await recordingMocks();
        new SystemdService("s", { connection: sshConnection, unit: "buildkit.socket", restartTriggers: ["abc"] });
        await settle(recorded);
        const r = recorded[0];
        assert.equal(r.type, "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService");
        assert.ok(isSecretValue(r.inputs.target));
        assert.deepEqual(
            [r.inputs.unit, r.inputs.enabled, r.inputs.active, r.inputs.restartTriggers, r.inputs.stopOnDelete],
            ["buildkit.socket", true, true, ["abc"], true],
        );
    });
});

describe("HostFile pure parts", () => {
    const state: HostFileState = {
        target: { kind: "local", sudo: false },
        path: "/etc/a",
        present: true,
        sha256: sha256Hex("x"),
        mode: "0644",
        owner: "root",
        group: "root",
        providerVersion: "1",
    };
    const inputs = { target: state.target, path: "/etc/a", content: "x", mode: "644", owner: "root", group: "root", providerVersion: "1" };

    it("no change when the host matches (a 3-digit mode equals its 4-digit form)", () => assert.deepEqual(fileChanges(state, inputs), []));
    it("content drift", () => assert.deepEqual(fileChanges({ ...state, sha256: sha256Hex("y") }, inputs), ["content"]));
    it("a deleted file is content drift", () =>
        assert.deepEqual(fileChanges({ ...state, present: false, sha256: "" }, inputs), ["content"]));
    it("mode, owner, group drift", () =>
        assert.deepEqual(fileChanges({ ...state, mode: "0600", owner: "u", group: "g" }, inputs), ["mode", "owner", "group"]));
    it("a new provider version is a change", () =>
        assert.deepEqual(fileChanges(state, { ...inputs, providerVersion: "2" }), ["providerVersion"]));

    it("parses the read script's output", () => {
        assert.deepEqual(parseReadOutput("absent\n"), { present: false, sha256: "", mode: "", owner: "", group: "" });
        assert.deepEqual(parseReadOutput(`present\n${"a".repeat(64)}\n600 root adm\n`), {
            present: true,
            sha256: "a".repeat(64),
            mode: "0600",
            owner: "root",
            group: "adm",
        });
        assert.throws(() => parseReadOutput("garbage"), /^Error: unexpected output while reading a file: "garbage"$/);
    });

    it("rejects bad paths, modes and owners", () => {
        assert.deepEqual(
            checkFileInputs({ path: "/etc/../x", mode: "0644", owner: "root", group: "root" }).map((f) => f.property),
            ["path"],
        );
        assert.deepEqual(
            checkFileInputs({ path: "/etc/a b", mode: "0644", owner: "root", group: "root" }).map((f) => f.property),
            ["path"],
        );
        assert.deepEqual(
            checkFileInputs({ path: "/etc/a", mode: "rw", owner: "r;id", group: "" }).map((f) => f.property),
            ["mode", "owner", "group"],
        );
    });

    it("parses systemctl's answers", () => {
        assert.deepEqual(parseServiceOutput("enabled\nactive\n"), { enabled: true, active: true });
        assert.deepEqual(parseServiceOutput("disabled\ninactive\n"), { enabled: false, active: false });
        assert.deepEqual(parseServiceOutput("\n\n"), { enabled: false, active: false });
    });
});

describe("host scripts pass shellcheck", () => {
    const scripts: Record<string, string> = {
        "preflight.sh": renderScript(scriptBody("preflight"), { BUILDKIT_ROOT: "/data/buildkit" }),
        writeFileScript: writeFileScript({ path: "/etc/a", content: "x'$(y)\n", mode: "0644", owner: "root", group: "root" }),
        readFileScript: readFileScript("/etc/a"),
        deleteFileScript: deleteFileScript("/etc/a"),
        applyServiceScript: applyServiceScript({ unit: "a.service", enabled: true, active: true }, true),
        "applyServiceScript (waits for builds)": applyServiceScript(
            {
                unit: "buildkit.service",
                enabled: true,
                active: true,
                waitForBuilds: { buildkitAddress: "unix:///run/b.sock", timeoutSeconds: 9 },
            },
            true,
        ),
        readServiceScript: readServiceScript("a.service"),
        certificateCheckScript: certificateCheckScript("/data/k3s"),
        certificateRotateScript: certificateRotateScript("k3s.service", "/data/k3s"),
        cacheUsageScript: cacheUsageScript("unix:///run/buildkit/buildkitd.sock"),
        deleteServiceScript: deleteServiceScript("a.service"),
        "runner (sudo)": `#!/bin/sh\n${runnerCommand(true)}\n`,
    };
    for (const [name, script] of Object.entries(scripts)) {
        it(name, () => assert.equal(shellcheck(name.startsWith("runner") ? script : `#!/usr/bin/env bash\n${script}`), ""));
    }
});
