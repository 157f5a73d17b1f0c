/**
 * index.ts under Pulumi mocks: exactly the expected children for the dev stack and an SSH stack,
 * secrets kept secret, nothing created for bad config, and a preview with unknown outputs.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, DEFAULT_VERSIONS, PROJECT } from "../../components/config";
import { hostStepProvider } from "../../components/host/step-provider";
import { providerVersion } from "../../components/provider-version";
import { scriptBody } from "../../components/host/scripts";
import { renderScript } from "../../components/render/shell";
import { FAKE_CERTIFICATES_EXPIRE_AT, isSecretValue, resolve, runProgram } from "../../tools/evaluate";

/** Stack config of a Pulumi.<stack>.yaml, without the `k3s-buildkit:` prefix. */
function stackFile(name: string): Record<string, unknown> {
    const doc = parse(readFileSync(join(__dirname, "../..", `Pulumi.${name}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(`${PROJECT}:`, ""), v]));
}

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nthis-is-the-secret-key\n-----END OPENSSH PRIVATE KEY-----\n";
const preflight = renderScript(scriptBody("preflight"), { BUILDKIT_ROOT: "/data/buildkit" });

describe("index.ts under mocks", () => {
    it("the dev stack (this machine) creates exactly the host, k3s, BuildKit, nerdctl and in-cluster daemon resources", async () => {
        const { recorded, exports } = await runProgram(stackFile("dev"));
        const sudo = process.getuid?.() !== 0;
        assert.deepEqual(
            recorded.map((r) => `${r.type} ${r.name}`).sort(),
            [
                "pulumi-nodejs:dynamic/k3s-buildkit:K3sCertificates local-k3s-certificates",
                "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitCacheUsage local-buildkit-cache-usage",
                "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitCacheReport buildkitd-cache-usage",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep local-buildkit-install",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep local-k3s-drain",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep local-k3s-install",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep local-kubeconfig",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep local-nerdctl-install",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep local-preflight",
                "k3s-buildkit:build:HostImageBuild devcontainer",
                "k3s-buildkit:build:HostImageBuild hello",
                "k3s-buildkit:cluster:BuildkitDaemon buildkitd",
                "k3s-buildkit:cluster:Cluster cluster",
                "k3s-buildkit:host:BuildkitHost local",
                "k3s-buildkit:host:Host local",
                "k3s-buildkit:host:K3sNode local",
                "k3s-buildkit:host:Nerdctl local",
                "k3s-buildkit:index:Platform k3s-buildkit",
                "kubernetes:apps/v1:Deployment deployment-default-devcontainer",
                "kubernetes:apps/v1:StatefulSet buildkitd-statefulset",
                "kubernetes:batch/v1:CronJob buildkitd-cache-report",
                "kubernetes:core/v1:ConfigMap buildkitd-config",
                "kubernetes:core/v1:Namespace buildkitd-namespace",
                "kubernetes:core/v1:Secret buildkitd-client-tls",
                "kubernetes:core/v1:Secret buildkitd-registry-auth",
                "kubernetes:core/v1:Secret buildkitd-server-tls",
                "kubernetes:core/v1:Service buildkitd-headless",
                "kubernetes:core/v1:Service buildkitd-service",
                "pulumi-nodejs:dynamic/k3s-buildkit:FirstServer k3s-first-server",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild devcontainer-build",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild hello-build",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostFile local-buildkit-service-unit",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostFile local-buildkit-socket-unit",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostFile local-buildkitd-toml",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostFile local-k3s-config",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostFile local-k3s-registries",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostFile local-nerdctl-toml",
                "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService local-buildkit",
                "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService local-buildkit-socket",
                "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService local-k3s",
                "pulumi:providers:kubernetes cluster",
                "pulumi-nodejs:dynamic/k3s-buildkit:K3sToken k3s-token",
                "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitMutualTls buildkitd-tls",
            ].sort(),
        );
        const { __provider, ...preflightInputs } = recorded.find((r) => r.name === "local-preflight")?.inputs ?? {};
        assert.equal(typeof __provider, "string", "the provider's code, serialized");
        assert.deepEqual(preflightInputs, {
            target: { kind: "local", sudo },
            create: preflight,
            delete: "",
            triggers: [],
            quiet: false,
            providerVersion: await providerVersion(hostStepProvider),
        });
        const hosts = (await resolve(pulumi.output(exports.hosts))).value as Record<string, Record<string, unknown>>;
        assert.deepEqual(hosts.local, {
            role: "server",
            arch: "amd64",
            k3sVersion: DEFAULT_VERSIONS.k3s,
            k3sSha256: "a".repeat(64),
            k3sCertificatesExpireAt: FAKE_CERTIFICATES_EXPIRE_AT,
            buildkitVersion: DEFAULT_VERSIONS.buildkit,
            buildkitSha256: "b".repeat(64),
            buildkitAddress: "unix:///run/buildkit/buildkitd.sock",
            buildkitCacheUsage: { available: true, totalBytes: 1_073_741_824, reclaimableBytes: 536_870_912, records: 12 },
            nerdctlVersion: DEFAULT_VERSIONS.nerdctl,
            nerdctlSha256: "c".repeat(64),
        });
        const kubeconfig = await resolve(exports.kubeconfig as pulumi.Output<string>);
        assert.equal(kubeconfig.secret, true);
        assert.match(kubeconfig.value ?? "", /server: https:\/\/127\.0\.0\.1:6443/);
        // The in-cluster daemon's cache usage, as the report reader returned it (one replica), not secret.
        const daemon = await resolve(pulumi.output(exports.buildkitDaemon));
        assert.equal(daemon.secret, false);
        assert.deepEqual((daemon.value as { cacheUsage: unknown }).cacheUsage, {
            reportedAt: "2026-12-05T12:30:04Z",
            daemons: { "buildkitd-0": { available: true, totalBytes: 2_147_483_648, reclaimableBytes: 1_073_741_824, records: 40 } },
        });
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
        assert.deepEqual(
            recorded
                .filter((r) => r.type === "k3s-buildkit:host:Host" || r.name.endsWith("-preflight"))
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
            [
                "k3s-buildkit:host:Host agent-1",
                "k3s-buildkit:host:Host server-1",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep agent-1-preflight",
                "pulumi-nodejs:dynamic/k3s-buildkit:HostStep server-1-preflight",
            ],
        );
        const byName = (n: string) => recorded.find((r) => r.name === n)!.inputs;
        const server = byName("server-1-preflight");
        assert.equal(server.create, preflight);
        assert.ok(isSecretValue(server.target), "the target, holding the key, is secret");
        assert.deepEqual((server.target as { value: unknown }).value, {
            kind: "ssh",
            host: "10.0.0.5",
            port: 22,
            user: "debian",
            sudo: true,
            privateKey: PRIVATE_KEY,
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
            dialErrorLimit: 10,
            dialTimeoutSeconds: 15,
        });
        const agent = byName("agent-1-preflight");
        assert.equal((agent.target as { value: Record<string, unknown> }).value.sudo, false, "root needs no sudo");
        assert.deepEqual((agent.target as { value: Record<string, unknown> }).value.bastion, {
            host: "jump.example.com",
            port: 22,
            user: "jump",
        });
        for (const r of recorded) {
            for (const [k, v] of Object.entries(r.inputs)) {
                // Only connections and targets (a node's own, or where kubectl answers for it) carry the key, as secrets.
                const carrier = k === "connection" || k === "target" || k === "kubectlTarget";
                if (!carrier) assert.ok(!JSON.stringify(v).includes("this-is-the-secret-key"), `${r.name}.${k} holds the key`);
                else assert.ok(isSecretValue(v), `${r.name}.${k} is secret`);
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
        assert.equal(recorded.length, 43); // with the Platform and Cluster components, the first-server guard, the drain step, the certificates' expiry, the cache usage and the in-cluster cache report (CronJob and reader)
        assert.ok("hosts" in exports && "kubeconfig" in exports);
    });
});
