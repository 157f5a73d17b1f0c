/**
 * Pulumi's mocks for the offline evaluation: every registration recorded (type, name, inputs as the
 * engine would receive them, provider), fake outputs standing in for what hosts report, and the helpers
 * that wait for and read outputs. Used by the tests, `npm run render` and `npm run bench`.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { repositoryOf } from "../../components/builds/buildctl";
import { PROJECT } from "../../components/config";

/** A private key for stacks evaluated under mocks (never a real one; tests of secrets use their own). */
export const FAKE_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----\n";

export interface Recorded {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly custom: boolean;
    /** Provider reference (`urn::id`) when one was passed explicitly. */
    readonly provider?: string;
}

/** The marker Pulumi puts on a secret value crossing the RPC boundary (what the engine would store encrypted). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Whether a recorded input value arrived as a secret. */
export function isSecretValue(v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
}

/** A recorded value with every secret unwrapped, at any depth (the values as a provider would receive them). */
export function unwrapSecrets(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (typeof v === "object" && v !== null) {
        if (isSecretValue(v)) return unwrapSecrets((v as { value: unknown }).value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** A k3s admin kubeconfig as the server writes it (fake credentials). */
export const FAKE_K3S_KUBECONFIG = `apiVersion: v1
clusters:
  - cluster:
      certificate-authority-data: Q0E=
      server: https://127.0.0.1:6443
    name: default
contexts:
  - context:
      cluster: default
      user: default
    name: default
current-context: default
kind: Config
users:
  - name: default
    user:
      client-certificate-data: Q0VSVA==
      client-key-data: S0VZ
`;

/** Fake provider outputs for resources whose outputs the program reads, as the real steps print them. */
function fakeOutputs(type: string, name: string, arch: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:BuildResult" || type === "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild") {
        // What the build's metadata would report: a digest of the build's identity.
        const names = (type.endsWith("BuildResult") ? inputs.tags : inputs.images) as string[];
        const digest = `sha256:${createHash("sha256")
            .update(String(inputs.jobName ?? inputs.contextHash))
            .digest("hex")}`;
        return { digest, ref: `${repositoryOf(names[0])}@${digest}`, names, present: true };
    }
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:K3sToken") return { result: "fake-k3s-token" };
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:K3sCertificates") return { expiresAt: FAKE_CERTIFICATES_EXPIRE_AT, count: 1 };
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitCacheUsage")
        return { available: true, totalBytes: 1_073_741_824, reclaimableBytes: 536_870_912, records: 12 };
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitCacheReport") {
        // A report from the CronJob's last run: every daemon pod answered.
        const usage = { available: true, totalBytes: 2_147_483_648, reclaimableBytes: 1_073_741_824, records: 40 };
        return { reportedAt: "2026-12-05T12:30:04Z", usage: Object.fromEntries((inputs.daemons as string[]).map((d) => [d, usage])) };
    }
    if (type === "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitMutualTls") {
        // K3SBK_FAKE_CERT_SERIAL stands in for a renewal: other certificates from the same plan.
        const serial = process.env.K3SBK_FAKE_CERT_SERIAL ?? "";
        const cert = (id: string) => `-----BEGIN CERTIFICATE-----\nfake-${name}-${id}${serial}\n-----END CERTIFICATE-----\n`;
        const key = (id: string) => `-----BEGIN PRIVATE KEY-----\nfake-${name}-${id}\n-----END PRIVATE KEY-----\n`;
        const three = <T>(f: (id: string) => T) => ({ ca: f("ca"), server: f("server"), client: f("client") });
        return {
            certs: three(cert),
            keys: three(key),
            notAfter: three(() => "2027-12-05T00:00:00.000Z"),
            renewAt: "2027-11-05T00:00:00.000Z",
        };
    }
    if (type !== "pulumi-nodejs:dynamic/k3s-buildkit:HostStep") return {};
    const stdout = name.endsWith("-preflight")
        ? `arch=${arch}\n`
        : name.endsWith("-kubeconfig")
          ? FAKE_K3S_KUBECONFIG
          : name.endsWith("-k3s-install")
            ? `k3s_sha256=${"a".repeat(64)}\n`
            : name.endsWith("-buildkit-install")
              ? `buildkit_sha256=${"b".repeat(64)}\n`
              : name.endsWith("-nerdctl-install")
                ? `nerdctl_sha256=${"c".repeat(64)}\n`
                : "";
    return { stdout };
}

/** When the mocks say a node's k3s certificates expire. */
export const FAKE_CERTIFICATES_EXPIRE_AT = "2027-12-05T00:00:00Z";

/** Installs recording mocks; returns the list that fills as resources register. */
export async function recordingMocks(preview = false, arch = "amd64"): Promise<Recorded[]> {
    const recorded: Recorded[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                recorded.push({
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs as Record<string, unknown>,
                    custom: args.custom ?? true,
                    ...(args.provider === undefined || args.provider === "" ? {} : { provider: args.provider }),
                });
                return {
                    id: preview ? undefined : `${args.name}-id`,
                    state: {
                        ...(args.inputs as Record<string, unknown>),
                        ...(preview ? {} : fakeOutputs(args.type, args.name, arch, args.inputs as Record<string, unknown>)),
                    },
                };
            },
            call() {
                return {};
            },
        },
        PROJECT,
        "test",
        preview,
    );
    return recorded;
}

/** The SDK's wait for every outstanding RPC (internal: the language host ends a program with it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

/**
 * Waits until the program is done as the language host decides it (every registration's RPC finished,
 * so every apply that registers more has run), then once more while that registered more.
 */
export async function settle(recorded: readonly unknown[]): Promise<void> {
    for (let seen = -1; seen !== recorded.length;) {
        seen = recorded.length;
        await waitForRPCs();
        await new Promise((r) => setImmediate(r));
    }
}

/** Resolves an Output's value (undefined when unknown) and whether it is secret. */
export async function resolve<T>(o: pulumi.Output<T>): Promise<{ value: T | undefined; secret: boolean }> {
    const value = await new Promise<T | undefined>((r) => o.apply((v) => r(v)));
    return { value, secret: await pulumi.isSecret(o) };
}
