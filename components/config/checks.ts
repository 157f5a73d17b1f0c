/** Config rules that span several keys (hosts, connections, registries, builds). Pure. */
import type { ParsedConfig } from "./stack-schema";
import { buildkitdExtraProblems } from "../render/buildkitd-toml";
import { k3sKeyProblem } from "../render/k3s-yaml";
import { type ConfigIssue, joinPath } from "./schema";

/** Rules that span several keys. */
export function crossCheck(c: ParsedConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const firstByName = new Map<string, number>();
    let localIndex: number | undefined;
    c.hosts.forEach((h, i) => {
        const at = `hosts[${i}]`;
        const seen = firstByName.get(h.name);
        if (seen !== undefined) {
            issues.push({ path: `${at}.name`, message: `"${h.name}" is already used by hosts[${seen}]; host names must be unique` });
        } else {
            firstByName.set(h.name, i);
        }
        if (h.connection === "local") {
            if (localIndex !== undefined) {
                issues.push({ path: `${at}.connection`, message: `only one host can be "local" (hosts[${localIndex}] already is)` });
            }
            localIndex ??= i;
        }
    });
    if (c.hosts.length > 0 && c.hosts[0].role !== "server") {
        issues.push({
            path: "hosts[0].role",
            message: `the first host must be a "server": it initialises the cluster, and agents and other servers join it`,
        });
    }
    if (c.k3s.airgap.imagesUrl !== undefined && c.k3s.airgap.imagesPath !== undefined) {
        issues.push({ path: "k3s.airgap.imagesPath", message: "set either imagesUrl or imagesPath, not both" });
    }
    c.hosts.forEach((h, i) => {
        if (h.apiAddress !== undefined && h.role !== "server") {
            issues.push({ path: `hosts[${i}].apiAddress`, message: 'is only used on hosts with role "server"; remove it' });
        }
    });
    if (c.hosts.length > 1 && c.hosts[0].connection === "local" && c.hosts[0].apiAddress === undefined) {
        issues.push({
            path: "hosts[0].apiAddress",
            message: "is required when other hosts join a local first server: set the address they can reach it on",
        });
    }
    const firstSsh = c.hosts.findIndex((h) => h.connection === "ssh");
    if (firstSsh >= 0 && c.sshPrivateKey === undefined) {
        issues.push({
            path: "sshPrivateKey",
            message: `is required because hosts[${firstSsh}] connects over SSH; set it with: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`,
        });
    }
    if (c.kubeconfig !== undefined && c.hosts.length > 0) {
        issues.push({
            path: "kubeconfig",
            message: "set either kubeconfig (bring your own cluster) or hosts (the k3s server's kubeconfig is used), not both",
        });
    }
    if (c.cluster.apiTunnel.enabled === true && (c.hosts.length === 0 || c.hosts[0].connection === "local")) {
        issues.push({
            path: "cluster.apiTunnel.enabled",
            message:
                c.hosts.length === 0
                    ? "the tunnel goes through the first host over SSH, and this stack has no hosts (bring your own cluster: make its API reachable, or run Pulumi where it is)"
                    : "the first host is this machine (connection: local): its API is reachable without a tunnel; remove apiTunnel.enabled",
        });
    }
    // config.yaml escape hatches: any k3s key but the ones the program manages.
    const k3sHatches: [string, Readonly<Record<string, unknown>> | undefined][] = [
        ["k3s.extraConfig", c.k3s.extraConfig],
        ["k3s.serverConfig", c.k3s.serverConfig],
        ["k3s.agentConfig", c.k3s.agentConfig],
        ...c.hosts.map((h, i): [string, Readonly<Record<string, unknown>> | undefined] => [`hosts[${i}].k3sConfig`, h.k3sConfig]),
    ];
    for (const [path, hatch] of k3sHatches) {
        for (const key of Object.keys(hatch ?? {})) {
            const problem = k3sKeyProblem(key);
            if (problem !== undefined) issues.push({ path: joinPath(path, key), message: problem });
        }
    }
    // buildkitd.toml escape hatches.
    for (const [path, extra, daemon] of [
        ["buildkit.extraConfig", c.buildkit.extraConfig, "host"],
        ["cluster.extraConfig", c.cluster.extraConfig, "cluster"],
    ] as const) {
        for (const [key, message] of buildkitdExtraProblems(extra, daemon)) issues.push({ path: `${path}.${key}`, message });
    }
    // Multi-platform builds: only platforms the daemon lists (foreign ones run under its bundled QEMU).
    if (c.buildkit.platforms.length > 0) {
        for (const [kind, list] of [
            ["builds", c.builds],
            ["hostBuilds", c.hostBuilds],
        ] as const) {
            list.forEach((b, i) =>
                b.platforms.forEach((p, j) => {
                    if (!c.buildkit.platforms.includes(p)) {
                        issues.push({
                            path: `${kind}[${i}].platforms[${j}]`,
                            message: `build ${JSON.stringify(b.name)} asks for ${p}, which the daemons do not list (buildkit.platforms: ${c.buildkit.platforms.join(", ")}); add it there (a foreign platform runs under BuildKit's bundled QEMU, slowly) or drop it from the build`,
                        });
                    }
                }),
            );
        }
    }
    if (c.kubeconfig === undefined && c.hosts.length === 0) {
        issues.push({
            path: "hosts",
            message:
                "no hosts and no kubeconfig: add at least one host (e.g. { name: local, connection: local }) or set the secret kubeconfig",
        });
    }
    issues.push(...checkBuilds(c));
    const passwords: Readonly<Record<string, string>> = c.registryPasswords ?? {};
    for (const [hostName, r] of Object.entries(c.registries)) {
        if (r.username !== undefined && !Object.hasOwn(passwords, hostName)) {
            issues.push({
                path: `registries[${JSON.stringify(hostName)}].username`,
                message: `has no password; set it with: pulumi config set --secret --path 'registryPasswords["${hostName}"]' …`,
            });
        }
        if (r.http && r.insecure) {
            issues.push({
                path: `registries[${JSON.stringify(hostName)}].insecure`,
                message:
                    "cannot be combined with http: true (insecure means HTTPS without certificate checks); keep only the one that matches the registry",
            });
        }
    }
    for (const hostName of Object.keys(passwords)) {
        if (!Object.hasOwn(c.registries, hostName) || c.registries[hostName].username === undefined) {
            issues.push({
                path: `registryPasswords[${JSON.stringify(hostName)}]`,
                message: `has no matching registries["${hostName}"].username; add the user name there or remove this password`,
            });
        }
    }
    return issues;
}

/** Rules for builds, host builds and deployments. */
export function checkBuilds(c: ParsedConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    const secretIds = new Set(Object.keys(c.buildSecrets ?? {}));
    const names = new Map<string, string>();
    const unique = (name: string, at: string) => {
        const seen = names.get(name);
        if (seen !== undefined)
            issues.push({ path: `${at}.name`, message: `"${name}" is already used by ${seen}; build names must be unique` });
        else names.set(name, at);
    };
    const needSecret = (id: string, at: string) => {
        if (!secretIds.has(id)) {
            issues.push({
                path: at,
                message: `names the build secret "${id}", which buildSecrets does not have; set it with: pulumi config set --secret --path 'buildSecrets["${id}"]' …`,
            });
        }
    };
    type AnyBuild = ParsedConfig["builds"][number] | ParsedConfig["hostBuilds"][number];
    const common = (b: AnyBuild, at: string) => {
        unique(b.name, at);
        b.secrets.forEach((id, j) => needSecret(id, `${at}.secrets[${j}]`));
        const ctx = b.context;
        if (ctx.gitTokenSecret !== undefined) needSecret(ctx.gitTokenSecret, `${at}.context.gitTokenSecret`);
        if (ctx.git === undefined) {
            for (const k of ["ref", "subdir", "gitTokenSecret"] as const) {
                if (ctx[k] !== undefined) issues.push({ path: `${at}.context.${k}`, message: "is only used with context.git; remove it" });
            }
        }
    };
    c.builds.forEach((b, i) => {
        const at = `builds[${i}]`;
        common(b, at);
        if (!c.cluster.enabled) {
            issues.push({
                path: `${at}`,
                message: "builds run against the in-cluster daemon, but cluster.enabled is false; enable it or use hostBuilds",
            });
        }
        const cache = b.cache;
        if (cache.type === "local" && cache.claimName === undefined) {
            issues.push({ path: `${at}.cache.claimName`, message: 'is required when cache.type is "local": name a PersistentVolumeClaim' });
        }
        if (cache.type !== "local" && cache.claimName !== undefined) {
            issues.push({ path: `${at}.cache.claimName`, message: 'is only used when cache.type is "local"; remove it' });
        }
        if (cache.type !== "registry" && (cache.ref !== undefined || cache.imageManifest)) {
            issues.push({
                path: `${at}.cache.${cache.ref !== undefined ? "ref" : "imageManifest"}`,
                message: 'is only used when cache.type is "registry"; remove it',
            });
        }
        if (cache.type === "inline" && !b.push) {
            issues.push({
                path: `${at}.cache.type`,
                message: '"inline" stores the cache in the pushed image, so it needs push: true; use "registry" or "local"',
            });
        }
    });
    const hostNames = new Set(c.hosts.map((h) => h.name));
    c.hostBuilds.forEach((b, i) => {
        const at = `hostBuilds[${i}]`;
        common(b, at);
        if (c.hosts.length === 0) {
            issues.push({ path: at, message: "host builds need hosts; with a bring-your-own kubeconfig use builds instead" });
        } else if (b.host !== undefined && !hostNames.has(b.host)) {
            issues.push({
                path: `${at}.host`,
                message: `"${b.host}" is not a host; expected one of ${[...hostNames].map((n) => `"${n}"`).join(", ")}`,
            });
        }
    });
    const deploymentNames = new Set<string>();
    c.deployments.forEach((d, i) => {
        const at = `deployments[${i}]`;
        const key = `${d.namespace}/${d.name}`;
        if (deploymentNames.has(key)) issues.push({ path: `${at}.name`, message: `"${key}" is already used by another deployment` });
        deploymentNames.add(key);
        if (!names.has(d.build)) {
            const known = [...names.keys()].map((n) => `"${n}"`).join(", ");
            issues.push({
                path: `${at}.build`,
                message: `"${d.build}" is not a build; expected the name of a builds[] or hostBuilds[] entry${known === "" ? "" : ` (${known})`}`,
            });
        }
    });
    return issues;
}
