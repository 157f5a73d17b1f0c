/**
 * `npm run render -- --stack <name> [--out dir] [--arch amd64|arm64]`: evaluates the program for a
 * stack's config offline (no Pulumi CLI, no cloud, under Pulumi's mocks) and writes what a reviewer
 * should see: per host the scripts run on it (in order, with their delete scripts) and the files written
 * (with paths and modes), the cluster manifests as YAML, and a resource list with types, names, parents
 * and dependencies. Secrets are shown as `[secret]`; `secure:` values in the stack file are never
 * decrypted. Host facts the program learns at run time are assumed: architecture `--arch` (amd64),
 * placeholder checksums, a placeholder kubeconfig.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { hygieneArgs } from "../components/builds/buildctl";
import { BUILDKIT_ADDRESS } from "../components/host/buildkit";
import { runnerCommand } from "../components/host/runner";
import { readArgvParams, shellWords } from "../components/render/shell";
import { PROJECT } from "../components/config";
import { isSecretValue, type RecordedWithDeps, runPlatform } from "../tools/evaluate";

export const SECRET = "[secret]";

const unwrapSecret = (v: unknown): unknown => (isSecretValue(v) ? (v as { value: unknown }).value : v);

/** Replaces every secret value with `[secret]`. */
function redact(v: unknown): unknown {
    if (isSecretValue(v)) return SECRET;
    if (Array.isArray(v)) return v.map(redact);
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x)]));
    return v;
}

/** A stack file's config: project keys without their prefix; `secure:` values become `[secret]` secrets. */
export function readStackConfig(path: string): { values: Record<string, unknown>; secretKeys: string[] } {
    const doc = parse(readFileSync(path, "utf8")) as { config?: Record<string, unknown> } | null;
    const values: Record<string, unknown> = {};
    const secretKeys: string[] = [];
    const hasSecure = (v: unknown): boolean => typeof v === "object" && v !== null && ("secure" in v || Object.values(v).some(hasSecure));
    const unsecure = (v: unknown): unknown => {
        if (typeof v === "object" && v !== null && "secure" in v) return SECRET;
        if (Array.isArray(v)) return v.map(unsecure);
        if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsecure(x)]));
        return v;
    };
    for (const [key, v] of Object.entries(doc?.config ?? {})) {
        if (!key.startsWith(`${PROJECT}:`)) continue;
        const name = key.slice(PROJECT.length + 1);
        values[name] = unsecure(v);
        if (hasSecure(v)) secretKeys.push(name);
    }
    return { values, secretKeys };
}

/** Orders resources so that each comes after its dependencies (stable otherwise). */
function topo(rs: RecordedWithDeps[]): RecordedWithDeps[] {
    const byName = new Map(rs.map((r) => [r.name, r]));
    const done = new Set<string>();
    const out: RecordedWithDeps[] = [];
    const visit = (r: RecordedWithDeps, path: Set<string>) => {
        const key = `${r.type} ${r.name}`;
        if (done.has(key) || path.has(key)) return;
        path.add(key);
        for (const d of r.dependsOn) {
            const dep = byName.get(d);
            if (dep !== undefined) visit(dep, path);
        }
        done.add(key);
        out.push(r);
    };
    for (const r of rs) visit(r, new Set());
    return out;
}

/** Every artifact of a stack, as relative path → content. */
export async function renderStack(stackPath: string, arch: "amd64" | "arm64" = "amd64"): Promise<Map<string, string>> {
    const { values, secretKeys } = readStackConfig(stackPath);
    const { recorded, platform } = await runPlatform(values, secretKeys, false, arch);
    const hosts = ((values.hosts as { name: string }[] | undefined) ?? []).map((h) => h.name);
    const hostOf = (name: string) => hosts.find((h) => name === h || name.startsWith(`${h}-`));
    const hostBuilds = (values.hostBuilds as { name: string; host?: string }[] | undefined) ?? [];
    const files = new Map<string, string>();
    const steps = new Map<string, number>();
    const listing = new Map<string, string[]>();
    const ordered = topo(recorded);

    for (const r of ordered) {
        const inputs = redact(r.inputs) as Record<string, unknown>;
        const host = hostOf(r.name);
        if (r.type === "pulumi-nodejs:dynamic/k3s-buildkit:HostStep" && host !== undefined) {
            const n = (steps.get(host) ?? 0) + 1;
            steps.set(host, n);
            const base = `hosts/${host}/steps/${String(n).padStart(2, "0")}-${r.name}`;
            const script =
                inputs.create === SECRET
                    ? `# This script carries a secret: ${SECRET}\n`
                    : typeof inputs.create === "string"
                      ? inputs.create
                      : "";
            const sudo = (unwrapSecret(r.inputs.target) as { sudo?: boolean } | undefined)?.sudo === true;
            files.set(`${base}.sh`, `#!/usr/bin/env bash\n# ${r.name}: fed on stdin to: ${runnerCommand(sudo)}\n${script}`);
            if (typeof inputs.delete === "string" && inputs.delete !== "")
                files.set(`${base}.delete.sh`, `#!/usr/bin/env bash\n# ${r.name}: run on delete\n${inputs.delete}`);
        } else if (r.type === "pulumi-nodejs:dynamic/k3s-buildkit:HostFile" && host !== undefined) {
            const path = String(inputs.path);
            // A secret file shows as its preview: the same file with the secret values masked.
            const masked = inputs.content === SECRET && typeof inputs.preview === "string";
            files.set(`hosts/${host}/files${path}`, masked ? String(inputs.preview) : String(inputs.content));
            const l = listing.get(host) ?? [];
            const note = masked ? " (secret values masked)" : inputs.content === SECRET ? " (secret content)" : "";
            l.push(`${path} ${String(inputs.mode)} ${String(inputs.owner)}:${String(inputs.group)}${note}`);
            listing.set(host, l);
        } else if (r.type === "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService" && host !== undefined) {
            const l = listing.get(host) ?? [];
            l.push(`unit ${String(inputs.unit)}: enabled=${String(inputs.enabled)} active=${String(inputs.active)}`);
            listing.set(host, l);
            if (typeof inputs.readyScript === "string") {
                // The unit's readiness check runs in the step that (re)starts it.
                const n = (steps.get(host) ?? 0) + 1;
                steps.set(host, n);
                files.set(
                    `hosts/${host}/steps/${String(n).padStart(2, "0")}-${r.name}.ready.sh`,
                    `#!/usr/bin/env bash
# ${r.name}: run once ${String(inputs.unit)} is (re)started and active, in the same step
${inputs.readyScript}`,
                );
            }
        } else if (r.type === "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild") {
            const build = r.name.replace(/-build$/, "");
            const on = hostBuilds.find((b) => b.name === build)?.host ?? hosts[0];
            const script = String(r.inputs.script === undefined ? "" : unwrapSecret(r.inputs.script));
            const argv = readArgvParams(script);
            const body = script.includes("K3S_BUILDKIT_SECRET_")
                ? `# This script carries a secret: ${SECRET}\n`
                : `${script}receive_context <<'K3S_BUILDKIT_CONTEXT'\n# (the context: a base64 tar of ${String(inputs.contextHash).slice(0, 12)}…)\nK3S_BUILDKIT_CONTEXT\nrun_build\n`;
            files.set(
                `hosts/${on}/builds/${build}.sh`,
                `#!/usr/bin/env bash\n# ${r.name}: fed on stdin to the runner, like the steps\n${body}`,
            );
            files.set(
                `builds/${build}.sh`,
                `#!/usr/bin/env bash\n# Host build ${build} on ${on} (context sha256 ${String(inputs.contextHash)}), into k3s's containerd as ${(inputs.images as string[]).join(", ")}:\nbuildctl ${shellWords(argv)}\n`,
            );
        } else if (r.type.startsWith("kubernetes:")) {
            const m = inputs as { kind: string; metadata: { name: string; labels?: Record<string, string> } };
            files.set(`cluster/${m.kind}-${m.metadata.name}.yaml`, stringify(inputs));
            if (m.kind === "Job") {
                const command = (r.inputs.spec as { template: { spec: { containers: { command: string[] }[] } } }).template.spec
                    .containers[0].command;
                const build = m.metadata.labels?.["app.kubernetes.io/instance"] ?? m.metadata.name;
                files.set(
                    `builds/${build}.sh`,
                    `#!/usr/bin/env bash\n# In-cluster build ${build}: Job ${m.metadata.name} runs (then copies the metadata to its termination message):\nbuildctl ${shellWords(command.slice(4))}\n`,
                );
            }
        }
    }
    const daemon = recorded.find((r) => r.type === "k3s-buildkit:cluster:BuildkitDaemon");
    if (hosts.length > 0 || daemon !== undefined) {
        const lines = [
            "#!/usr/bin/env bash",
            "# Disk hygiene (seed 003): what the build caches hold, and pruning what is older than a week.",
        ];
        if (hosts.length > 0) {
            const h = hygieneArgs({ addr: BUILDKIT_ADDRESS });
            lines.push(
                `# On a host (sudo), against the host daemon (k3s's containerd):`,
                `buildctl ${shellWords(h.du)}`,
                `buildctl ${shellWords(h.prune)}`,
            );
        }
        if (daemon !== undefined) {
            const ns = (values.cluster as { namespace?: string } | undefined)?.namespace ?? "buildkit";
            const h = hygieneArgs({ addr: `kube-pod://buildkitd-0?namespace=${ns}` });
            lines.push(
                `# Against the in-cluster daemon (replica 0; repeat per replica), with a kubeconfig:`,
                `buildctl ${shellWords(h.du)}`,
                `buildctl ${shellWords(h.prune)}`,
            );
        }
        files.set("builds/hygiene.sh", `${lines.join("\n")}\n`);
    }
    const buildx = [platform.buildx.cluster, ...Object.values(platform.buildx.hosts)].filter((x) => x !== undefined);
    if (buildx.length > 0) {
        files.set(
            "buildx.sh",
            `#!/usr/bin/env bash\n# docker buildx builders for this stack's daemons (also the stack output buildx).\n${buildx.join("\n")}`,
        );
    }
    for (const [host, l] of listing) files.set(`hosts/${host}/files.txt`, `${l.join("\n")}\n`);
    files.set(
        "resources.txt",
        `${ordered
            .map(
                (r) =>
                    `${r.type} ${r.name}${r.parent === undefined ? "" : ` parent=${r.parent}`}${r.dependsOn.length > 0 ? ` dependsOn=${r.dependsOn.join(",")}` : ""}`,
            )
            .join("\n")}\n`,
    );
    return files;
}

/** Writes the artifacts under `out` (emptied first). */
export function writeArtifacts(out: string, files: Map<string, string>): void {
    rmSync(out, { recursive: true, force: true });
    for (const [rel, content] of files) {
        const p = join(out, rel);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, content, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
    }
}

function arg(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
    const stack = arg("stack");
    if (stack === undefined) {
        console.error("usage: npm run render -- --stack <name> [--out dir] [--arch amd64|arm64]");
        process.exit(2);
    }
    const arch = (arg("arch") ?? "amd64") as "amd64" | "arm64";
    const out = arg("out") ?? join("out", stack);
    renderStack(join(__dirname, "..", `Pulumi.${stack}.yaml`), arch)
        .then((files) => {
            writeArtifacts(out, files);
            console.log(`${files.size} artifacts for stack ${stack} written to ${out}`);
            process.exit(0);
        })
        .catch((e: unknown) => {
            console.error(e instanceof Error ? e.message : e);
            process.exit(1);
        });
}
