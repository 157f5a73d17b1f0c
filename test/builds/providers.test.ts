/**
 * The build dynamic resources as the engine would store them: their serialized provider code loads
 * on its own and works, and carries no stack config, no secret and no Pulumi SDK.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BuildResult } from "../../components/builds/image-build";
import { HostBuild } from "../../components/host/host-image-build";
import { isSecretValue, recordingMocks, setStackConfig, settle } from "../../tools/evaluate";

type Loaded = { handler: () => { check: (o: object, n: object) => Promise<{ failures: unknown[] }> } };

function load(code: string): Loaded["handler"] {
    const dir = mkdtempSync(join(__dirname, "../../node_modules/.k3sbk-provider-"));
    try {
        writeFileSync(join(dir, "provider.js"), code);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return (require(join(dir, "provider.js")) as Loaded).handler;
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

describe("build providers as serialized into state", () => {
    it("load on their own, check their inputs, and carry no config, secret or SDK", async () => {
        const recorded = await recordingMocks();
        setStackConfig({ buildSecrets: { npm: "MARKER-SECRET-IN-CONFIG" }, hosts: [{ name: "s1", connection: "local" }] }, [
            "buildSecrets",
        ]);
        new BuildResult("r", {
            kubeconfig: "KUBECONFIG-SECRET",
            namespace: "buildkit",
            jobName: "build-a-0123456789",
            tags: ["r/a:1"],
            timeoutSeconds: 60,
        });
        new HostBuild("h", {
            target: { kind: "local", sudo: false },
            script: "echo",
            checkScript: "echo",
            removeScript: "echo",
            contextHash: "0".repeat(64),
            images: ["docker.io/library/a:1"],
            providerVersion: "1",
        });
        await settle(recorded);
        assert.deepEqual(
            recorded.map((r) => r.type),
            ["pulumi-nodejs:dynamic/k3s-buildkit:BuildResult", "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild"],
        );
        for (const r of recorded) {
            const code = r.inputs.__provider as string;
            assert.ok(!code.includes("MARKER-SECRET-IN-CONFIG"), `${r.name}: a config secret is in the serialized provider`);
            assert.ok(!code.includes("KUBECONFIG-SECRET"), `${r.name}: an input is in the serialized provider`);
            assert.ok(!code.includes("@pulumi/pulumi"), `${r.name}: the serialized provider pulls in the Pulumi SDK`);
        }
        const result = load(recorded[0].inputs.__provider as string)();
        assert.deepEqual((await result.check({}, { jobName: "Bad_Name", timeoutSeconds: 0 })).failures, [
            { property: "jobName", reason: 'expected a Kubernetes name; got "Bad_Name"' },
            { property: "timeoutSeconds", reason: "expected a positive number of seconds" },
        ]);
        const host = load(recorded[1].inputs.__provider as string)();
        assert.deepEqual((await host.check({}, { contextHash: "nope" })).failures, [
            { property: "contextHash", reason: "expected a sha256 in hex" },
        ]);
    });

    it("a secret kubeconfig stays a secret input of the build result", async () => {
        const recorded = await recordingMocks();
        const { secret } = await import("@pulumi/pulumi");
        new BuildResult("r", {
            kubeconfig: secret("k"),
            namespace: "buildkit",
            jobName: "build-a-0123456789",
            tags: ["r/a:1"],
            timeoutSeconds: 60,
        });
        await settle(recorded);
        assert.ok(isSecretValue(recorded[0].inputs.kubeconfig));
    });
});
