/** The program's view of the stack config: read from the Pulumi runtime, checked, secrets wrapped as Outputs. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { type ConfigIssue, joinPath } from "./schema";
import { ConfigError, parseConfig, PROJECT, type ResolvedConfig, SECRET_KEYS } from "./stack";

/** Secrets from stack config, each a secret Output. */
export interface StackSecrets {
    readonly sshPrivateKey?: pulumi.Output<string>;
    readonly sshPrivateKeyPassphrase?: pulumi.Output<string>;
    readonly kubeconfig?: pulumi.Output<string>;
    readonly registryPasswords: pulumi.Output<Record<string, string>>;
    readonly buildSecrets: pulumi.Output<Record<string, string>>;
}

/** The stack config as components consume it: plain settings, and secrets wrapped as secret Outputs. */
export interface StackConfig {
    readonly settings: Omit<
        ResolvedConfig,
        "sshPrivateKey" | "sshPrivateKeyPassphrase" | "kubeconfig" | "registryPasswords" | "buildSecrets"
    >;
    readonly secrets: StackSecrets;
}

/** Wraps secret values as secret Outputs and removes them from the plain settings. */
export function toStackConfig(c: ResolvedConfig): StackConfig {
    const { sshPrivateKey, sshPrivateKeyPassphrase, kubeconfig, registryPasswords, buildSecrets, ...settings } = c;
    return {
        settings,
        secrets: {
            ...(sshPrivateKey === undefined ? {} : { sshPrivateKey: pulumi.secret(sshPrivateKey) }),
            ...(sshPrivateKeyPassphrase === undefined ? {} : { sshPrivateKeyPassphrase: pulumi.secret(sshPrivateKeyPassphrase) }),
            ...(kubeconfig === undefined ? {} : { kubeconfig: pulumi.secret(kubeconfig) }),
            registryPasswords: pulumi.secret<Record<string, string>>(registryPasswords ?? {}),
            buildSecrets: pulumi.secret<Record<string, string>>(buildSecrets ?? {}),
        },
    };
}

/** Host build directories must exist (relative ones are resolved against `baseDir`, the project directory). */
export function checkContextDirs(c: Pick<ResolvedConfig, "hostBuilds">, baseDir: string): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    c.hostBuilds.forEach((b, i) => {
        const dir = b.context.dir;
        if (dir === undefined) return;
        const full = resolvePath(baseDir, dir);
        let ok = false;
        try {
            ok = statSync(full).isDirectory();
        } catch {
            ok = false;
        }
        if (!ok) {
            issues.push({
                path: `hostBuilds[${i}].context.dir`,
                message: `${JSON.stringify(dir)} is not a directory (looked at ${full}); relative paths start at the Pulumi project directory`,
            });
        }
    });
    return issues;
}

/**
 * Secret keys whose value in the stack file is an object or list with a leaf stored in plain text. Pulumi
 * marks a whole key secret when any one leaf is `secure:`, so the runtime cannot tell; the stack file can.
 * Reads the file's `config:` section (`k3s-buildkit:<key>`); never quotes a value.
 */
export function plainSecretLeaves(stackFileText: string, stackFile: string): ConfigIssue[] {
    let doc: unknown;
    try {
        doc = parseYaml(stackFileText);
    } catch {
        return [{ path: "", message: `${stackFile} is not valid YAML` }];
    }
    const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
    const issues: ConfigIssue[] = [];
    const visit = (node: unknown, path: string, key: string) => {
        if (typeof node === "object" && node !== null && !Array.isArray(node)) {
            const o = node as Record<string, unknown>;
            if (Object.keys(o).length === 1 && typeof o.secure === "string") return;
            for (const [k, v] of Object.entries(o)) visit(v, joinPath(path, k), key);
            return;
        }
        if (Array.isArray(node)) {
            node.forEach((v, i) => visit(v, joinPath(path, i), key));
            return;
        }
        if (node === null || node === undefined) return;
        issues.push({
            path,
            message: `is stored in plain text in ${stackFile}; every value of ${key} must be a secret: pulumi config set --secret --path '${path}' …`,
        });
    };
    for (const key of SECRET_KEYS) visit(config[`${PROJECT}:${key}`], key, key);
    return issues;
}

/** `pulumi.runtime.isConfigSecret`: exported by the SDK's runtime but missing from its typings. */
function isConfigSecret(fullKey: string): boolean {
    const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    if (fn === undefined) throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret; update loadStackConfig");
    return fn(fullKey);
}

/**
 * Reads the whole stack config from the Pulumi runtime and validates it. Throws {@link ConfigError},
 * listing every problem, before any resource is created.
 */
export function loadStackConfig(): StackConfig {
    const all = pulumi.runtime.allConfig();
    const prefix = `${PROJECT}:`;
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        values[key] = value;
        if (isConfigSecret(fullKey)) secretKeys.add(key);
    }
    const { config, issues } = parseConfig({ values, secretKeys }, { runningAsRoot: process.getuid?.() === 0 });
    const stackFile = `Pulumi.${pulumi.getStack()}.yaml`;
    if (existsSync(stackFile)) issues.push(...plainSecretLeaves(readFileSync(stackFile, "utf8"), stackFile));
    if (config === undefined || issues.length > 0) throw new ConfigError(issues);
    const missing = checkContextDirs(config, process.cwd());
    if (missing.length > 0) throw new ConfigError(missing);
    return toStackConfig(config);
}
