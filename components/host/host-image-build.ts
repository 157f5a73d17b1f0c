/**
 * `HostImageBuild` (`k3s-buildkit:build:HostImageBuild`): seed 000's flow as a resource. buildctl runs
 * on a host against the host's BuildKit, whose worker is k3s's containerd, so the image is there for
 * k3s pods (`imagePullPolicy: Never`/`IfNotPresent`) without a registry. The context comes from the
 * machine running Pulumi (a directory, `.dockerignore` applied, or inline files) or from git; the
 * build runs again only when the context's content hash or the build's options change.
 */
import { isAbsolute, resolve as resolvePath } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import type { ResolvedConfig } from "../config";
import { BUILDKIT_ADDRESS } from "./buildkit";
import { type HostConnection, transportTarget } from "./connection";
import { hostScript } from "./scripts";
import { K3S_CONTAINERD_SOCKET } from "../render/buildkitd-toml";
import { dockerConfigJson } from "../builds/daemon";
import { type BuildctlBuild, buildctlArgs, repositoryOf } from "../builds/buildctl";
import { contextHash, inlineEntries, walkContext } from "../builds/context";
import { type HostBuildInputs, hostBuildProvider } from "./host-build-provider";
import { contextSource, insecureRegistry, registryOf } from "../builds/job-spec";
import { DynamicResource } from "../dynamic-resource";

export type HostBuildConfig = ResolvedConfig["hostBuilds"][number];

/** Where a host build works (private, removed after each build, also on failure). */
export const hostBuildDir = (name: string) => `/var/lib/k3s-buildkit/host-builds/${name}`;
/** The digests a host build made, newest last (kept across builds: destroy removes their references). */
export const hostBuildStateFile = (name: string) => `/var/lib/k3s-buildkit/host-builds/${name}.digests`;

/** The repositories of a build's image names, each once, in order: `docker.io/library/app:dev` → `docker.io/library/app`. */
export function repositoriesOf(names: readonly string[]): string[] {
    return [...new Set(names.map(repositoryOf))];
}

/** A reference as containerd stores it: `app:dev` → `docker.io/library/app:dev`, no tag → `:latest`. */
export function normalizeImageName(ref: string): string {
    const registry = registryOf(ref);
    let rest = ref.includes("/") && ref.split("/")[0] === registry ? ref.slice(registry.length + 1) : ref;
    if (registry === "docker.io" && !rest.includes("/")) rest = `library/${rest}`;
    const lastSeg = rest.slice(rest.lastIndexOf("/") + 1);
    if (!lastSeg.includes(":") && !rest.includes("@")) rest = `${rest}:latest`;
    return `${registry}/${rest}`;
}

/**
 * The environment variable that carries build secret `id` to buildctl on a host: the id's UTF-8 bytes in
 * hex, so two ids never share a variable (`a.b` and `a-b` map to different names).
 */
export function secretEnvName(id: string): string {
    return `K3S_BUILDKIT_SECRET_${Buffer.from(id, "utf8").toString("hex")}`;
}

/** The build secrets a host build reads: its `secrets`, and its git token as BuildKit's `GIT_AUTH_TOKEN`. */
function hostSecrets(b: HostBuildConfig): { id: string; env: string }[] {
    return [
        ...b.secrets.map((id) => ({ id, env: secretEnvName(id) })),
        ...(b.context.gitTokenSecret === undefined ? [] : [{ id: "GIT_AUTH_TOKEN", env: secretEnvName(b.context.gitTokenSecret) }]),
    ];
}

/**
 * buildctl's argv as script parameters: `BUILDCTL_ARGC` and one `BUILDCTL_ARG_<i>` per argument, each
 * quoted by the one quoting function. No separator exists that a value could contain.
 */
export function argvParams(argv: readonly string[]): Record<string, string | number> {
    const params: Record<string, string | number> = { BUILDCTL_ARGC: argv.length };
    argv.forEach((a, i) => (params[`BUILDCTL_ARG_${i}`] = a));
    return params;
}

/** The buildctl build a host runs: unix socket, context dirs under {@link hostBuildDir}, image output unpacked for k3s. */
export function hostBuildctl(b: HostBuildConfig, registries: ResolvedConfig["registries"]): BuildctlBuild {
    const dir = hostBuildDir(b.name);
    const insecure = b.push && b.tags.some((t) => insecureRegistry(registries, t));
    return {
        connection: { addr: BUILDKIT_ADDRESS },
        context: contextSource(b, { context: `${dir}/context`, dockerfile: `${dir}/dockerfile` }),
        ...(b.dockerfileInline === undefined ? { dockerfile: b.dockerfile } : {}),
        ...(b.target === undefined ? {} : { target: b.target }),
        buildArgs: b.buildArgs,
        platforms: b.platforms,
        secrets: hostSecrets(b),
        outputs: [{ type: "image", names: b.tags.map(normalizeImageName), push: b.push, insecure, unpack: true }],
        metadataFile: `${dir}/metadata.json`,
    };
}

export interface HostImageBuildArgs {
    readonly connection: HostConnection;
    readonly build: HostBuildConfig;
    readonly registries: ResolvedConfig["registries"];
    /** containerd namespace BuildKit builds into (k8s.io: visible to k3s). */
    readonly containerdNamespace: string;
    /** Directory relative context paths are resolved against. @default process.cwd() */
    readonly baseDir?: string;
    /** Build secrets by id (secret). */
    readonly buildSecrets: pulumi.Input<Record<string, string>>;
    /** Registry passwords by registry host (secret): with `registries[].username`, they become the build's docker config.json. */
    readonly registryPasswords: pulumi.Input<Record<string, string>>;
    /** BuildKit on the host must be up first. */
    readonly after: pulumi.Input<pulumi.Resource>[];
}

/** Host build dynamic resource (see ./host-build-provider.ts). */
export class HostBuild extends DynamicResource {
    declare public readonly digest: pulumi.Output<string>;
    declare public readonly ref: pulumi.Output<string>;
    declare public readonly names: pulumi.Output<string[]>;

    constructor(
        name: string,
        inputs: { [K in keyof HostBuildInputs]: pulumi.Input<HostBuildInputs[K]> },
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(
            hostBuildProvider,
            name,
            { ...inputs, digest: undefined, ref: undefined, names: undefined, present: undefined },
            { ...opts, additionalSecretOutputs: ["target", "script"] },
            "k3s-buildkit",
            "HostBuild",
        );
    }
}

export class HostImageBuild extends pulumi.ComponentResource {
    /** Content hash of the context (what decides a rebuild). */
    public readonly contextHash: string;
    /** The buildctl argv run on the host. */
    public readonly buildctlArgv: string[];
    /** `sha256:…` from the build's metadata. */
    public readonly digest: pulumi.Output<string>;
    /** `docker.io/library/app@sha256:…`: what a pod on that node runs. */
    public readonly ref: pulumi.Output<string>;

    constructor(name: string, args: HostImageBuildArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:build:HostImageBuild", name, {}, opts);
        const b = args.build;
        const dir =
            b.context.dir === undefined
                ? undefined
                : isAbsolute(b.context.dir)
                  ? b.context.dir
                  : resolvePath(args.baseDir ?? process.cwd(), b.context.dir);
        const entries = dir !== undefined ? walkContext(dir) : b.context.files !== undefined ? inlineEntries(b.context.files) : [];
        this.contextHash = contextHash(entries);
        this.buildctlArgv = buildctlArgs(hostBuildctl(b, args.registries));
        const names = b.tags.map(normalizeImageName);
        const repositories = repositoriesOf(names);
        const ns = args.containerdNamespace;
        const withCredentials = Object.values(args.registries).some((r) => r.username !== undefined);
        const secretScript = b.secrets.length > 0 || b.context.gitTokenSecret !== undefined || withCredentials;
        // Build secrets reach buildctl as environment variables, registry credentials as a docker config.json,
        // both set inside the (then secret) script.
        const script = pulumi.all([args.buildSecrets, args.registryPasswords]).apply(([all, passwords]) => {
            const secretEnv = Object.fromEntries(
                [...b.secrets, ...(b.context.gitTokenSecret === undefined ? [] : [b.context.gitTokenSecret])].map((id) => [
                    secretEnvName(id),
                    Object.hasOwn(all, id) ? all[id] : "",
                ]),
            );
            return hostScript("host-build", {
                BUILD_DIR: hostBuildDir(b.name),
                // Changing the trigger changes the script, and so rebuilds.
                BUILD_TRIGGER: b.trigger ?? "",
                ...argvParams(this.buildctlArgv),
                DOCKERFILE_B64: b.dockerfileInline === undefined ? "" : Buffer.from(b.dockerfileInline, "utf8").toString("base64"),
                DOCKER_CONFIG_B64: withCredentials
                    ? Buffer.from(dockerConfigJson(args.registries, passwords), "utf8").toString("base64")
                    : "",
                BUILD_NAMESPACE: ns,
                IMAGE_NAMES: names.join("\n"),
                REPOSITORIES: repositories.join("\n"),
                KEEP: b.keep,
                STATE_FILE: hostBuildStateFile(b.name),
                CONTAINERD_ADDRESS: K3S_CONTAINERD_SOCKET,
                ...secretEnv,
            });
        });
        const result = new HostBuild(
            `${name}-build`,
            {
                target: transportTarget(args.connection),
                script: secretScript ? pulumi.secret(script) : script,
                checkScript: hostScript("host-build-check", {
                    IMAGE_NAME: names[0],
                    REPOSITORY: repositories[0],
                    STATE_FILE: hostBuildStateFile(b.name),
                    CONTAINERD_ADDRESS: K3S_CONTAINERD_SOCKET,
                }),
                removeScript: hostScript("host-build-remove", {
                    BUILD_NAMESPACE: ns,
                    IMAGE_NAMES: names.join("\n"),
                    REPOSITORIES: repositories.join("\n"),
                    STATE_FILE: hostBuildStateFile(b.name),
                    CONTAINERD_ADDRESS: K3S_CONTAINERD_SOCKET,
                }),
                ...(dir === undefined ? {} : { contextDir: dir }),
                ...(b.context.files === undefined ? {} : { inlineFiles: b.context.files }),
                contextHash: this.contextHash,
                images: names,
                providerVersion: providerVersion(hostBuildProvider),
            },
            { parent: this, dependsOn: args.after },
        );
        this.digest = result.digest;
        this.ref = result.ref;
        this.registerOutputs({ contextHash: this.contextHash, digest: this.digest, ref: this.ref });
    }
}
