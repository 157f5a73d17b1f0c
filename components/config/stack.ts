/**
 * The pure parser of the stack config (schema in ./stack-schema.ts): raw Pulumi config in, a resolved
 * config or every problem with its key out.
 */
import { crossCheck } from "./checks";
import { type ConfigIssue, fieldInfo, formatIssue, parseWith, unknownKeyMessage } from "./schema";
import { type ParsedConfig, stackSchema } from "./stack-schema";

export { type HostConfig, type ParsedConfig, PROJECT, stackSchema } from "./stack-schema";

/** The stack's top-level keys and their fields. */
const TOP = fieldInfo(stackSchema).fields ?? {};

/** Top-level keys whose value must be a Pulumi secret. */
export const SECRET_KEYS: readonly string[] = Object.entries(TOP)
    .filter(([, f]) => fieldInfo(f).secret)
    .map(([k]) => k);

/** Raw stack config: top-level key (without `k3s-buildkit:`) → the string Pulumi hands the program. */
export interface RawConfig {
    readonly values: Readonly<Record<string, string>>;
    /** Keys that are stored as secrets. */
    readonly secretKeys: ReadonlySet<string>;
}

/** Thrown when stack config is invalid; the message lists every problem, one per line. */
export class ConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(
            `invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}); nothing was changed:\n` +
                issues.map((i) => `  - ${formatIssue(i)}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Turns a raw string into the JSON value its schema kind expects; scalars stay strings when unparsable. */
function decodeRaw(kind: string, raw: string): unknown {
    switch (kind) {
        case "string":
            return raw;
        case "integer":
            return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
        case "boolean":
            return raw === "true" ? true : raw === "false" ? false : raw;
        default:
            return JSON.parse(raw) as unknown;
    }
}

/** Whether Pulumi runs as root on this machine (decides sudo for local hosts). */
export interface LocalFacts {
    readonly runningAsRoot: boolean;
}

/**
 * Validates raw stack config and applies defaults. Pure. Returns every problem at once, each with
 * its key path; the config is returned only when there is none.
 */
export function parseConfig(raw: RawConfig, local: LocalFacts): { config?: ResolvedConfig; issues: ConfigIssue[] } {
    const issues: ConfigIssue[] = [];
    const decoded: Record<string, unknown> = {};
    const known = Object.keys(TOP);
    for (const [key, text] of Object.entries(raw.values)) {
        const field = Object.hasOwn(TOP, key) ? TOP[key] : undefined;
        if (field === undefined) {
            issues.push({ path: key, message: unknownKeyMessage(key, known) });
            continue;
        }
        try {
            decoded[key] = decodeRaw(fieldInfo(field).kind, text);
        } catch {
            issues.push({
                path: key,
                message: `is not valid JSON; set structured values in Pulumi.<stack>.yaml or with pulumi config set --path`,
            });
        }
    }
    for (const key of SECRET_KEYS) {
        if (raw.values[key] !== undefined && !raw.secretKeys.has(key)) {
            issues.push({ path: key, message: `must be stored as a secret; set it with: pulumi config set --secret ${key} …` });
        }
    }
    const { value: parsed, issues: problems } = parseWith(stackSchema, decoded);
    if (parsed === undefined) return { issues: [...issues, ...problems] };
    issues.push(...crossCheck(parsed));
    if (issues.length > 0) return { issues };
    return { config: resolve(parsed, local), issues };
}

/** How to reach a host. Secret material is not here: see {@link StackConfig.secrets}. */
export type ConnectionConfig =
    | {
          readonly kind: "ssh";
          readonly host: string;
          readonly port: number;
          readonly user: string;
          readonly sudo: boolean;
          readonly hostKey?: string;
          readonly bastion?: { readonly host: string; readonly port: number; readonly user: string; readonly hostKey?: string };
          readonly dialErrorLimit: number;
          readonly dialTimeoutSeconds: number;
      }
    | { readonly kind: "local"; readonly sudo: boolean };

export interface ResolvedHost {
    readonly name: string;
    readonly role: "server" | "agent";
    readonly connection: ConnectionConfig;
    /** Servers: the address joining nodes and the kubeconfig use. */
    readonly apiAddress: string;
    /** This host's config.yaml escape hatch (hosts[].k3sConfig); {} when unset. */
    readonly k3sConfig: Readonly<Record<string, unknown>>;
}

/** Validated config with host defaults resolved. Secret values are still plain strings here. */
export interface ResolvedConfig extends Omit<ParsedConfig, "hosts"> {
    readonly hosts: readonly ResolvedHost[];
}

function resolve(c: ParsedConfig, local: LocalFacts): ResolvedConfig {
    const hosts = c.hosts.map((h): ResolvedHost => {
        if (h.connection === "local") {
            return {
                name: h.name,
                role: h.role,
                connection: { kind: "local", sudo: h.sudo ?? !local.runningAsRoot },
                apiAddress: h.apiAddress ?? "127.0.0.1",
                k3sConfig: h.k3sConfig ?? {},
            };
        }
        const user = h.user ?? c.sshUser;
        return {
            name: h.name,
            role: h.role,
            apiAddress: h.apiAddress ?? h.address,
            k3sConfig: h.k3sConfig ?? {},
            connection: {
                kind: "ssh",
                host: h.address,
                port: h.port ?? c.sshPort,
                user,
                sudo: h.sudo ?? user !== "root",
                ...(h.hostKey === undefined ? {} : { hostKey: h.hostKey }),
                ...(h.bastion === undefined
                    ? {}
                    : {
                          bastion: {
                              host: h.bastion.address,
                              port: h.bastion.port,
                              user: h.bastion.user,
                              ...(h.bastion.hostKey === undefined ? {} : { hostKey: h.bastion.hostKey }),
                          },
                      }),
                dialErrorLimit: h.dialErrorLimit,
                dialTimeoutSeconds: h.dialTimeoutSeconds,
            },
        };
    });
    return { ...c, hosts };
}
