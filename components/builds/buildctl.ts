/**
 * `buildctl` argument rendering: a typed build description in, an argv out. Pure and deterministic
 * (maps are sorted), so the same build always renders the same command line. Covers every form in
 * seeds 001 and 003: the `dockerfile.v0` frontend with local or remote context, `--opt target` /
 * `build-arg:` / `platform` / `filename`, image outputs with push and insecure registries, the local /
 * tar / docker / oci exports, registry / inline / local cache import and export, build secrets and
 * `--metadata-file` (where the image digest comes from).
 */

/** Where the context (and the Dockerfile) comes from. */
export type ContextSource =
    /** Directories on the client: `--local context=… --local dockerfile=…`. */
    | { readonly kind: "local"; readonly dir: string; readonly dockerfileDir: string }
    /**
     * A git URL (`https://host/repo.git#ref:subdir`) or an HTTP(S) tarball the daemon fetches itself:
     * `--opt context=…`. The Dockerfile comes from that context, or from a client directory.
     */
    | { readonly kind: "remote"; readonly url: string; readonly dockerfileDir?: string };

/** The image output: stored by the worker under `names`, pushed when `push`. */
export interface ImageOutput {
    readonly type: "image";
    readonly names: readonly string[];
    readonly push: boolean;
    /** Push over plain HTTP or to a self-signed HTTPS registry (`registry.insecure=true`). */
    readonly insecure?: boolean;
    /** Unpack into the worker's snapshotter (host builds: ready for k3s pods without a pull). */
    readonly unpack?: boolean;
}

/** A file export written by the client (seed 003: `-o type=local|docker|tar|oci`). */
export interface FileExport {
    readonly type: "local" | "tar" | "docker" | "oci";
    /** Directory (`local`) or tar file path. */
    readonly dest: string;
    /** Image name recorded in docker/oci archives. */
    readonly name?: string;
}

export type Output = ImageOutput | FileExport;

/** Build cache import and export. */
export type Cache =
    /** A cache image in a registry; `imageManifest` stores it as an OCI image manifest (for registries that refuse cache indexes). */
    | { readonly type: "registry"; readonly ref: string; readonly imageManifest: boolean; readonly insecure: boolean }
    /** Cache metadata inside the pushed image; imported from the image's first name. */
    | { readonly type: "inline"; readonly from: string; readonly insecure: boolean }
    /** A directory on the client (a volume). */
    | { readonly type: "local"; readonly dir: string }
    | { readonly type: "none" };

/** A build secret: `--secret id=…,src=…` (a file) or `env=…` (an environment variable of buildctl). */
export type Secret = { readonly id: string; readonly src: string } | { readonly id: string; readonly env: string };

/** The client's connection to the daemon. */
export interface Connection {
    readonly addr: string;
    /** Mutual TLS: paths of the CA, client certificate and key, and the name to expect on the server's certificate. */
    readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string; readonly serverName?: string };
}

export interface BuildctlBuild {
    readonly connection?: Connection;
    readonly context: ContextSource;
    /** Dockerfile path relative to the Dockerfile directory (or the remote context). @default "Dockerfile" */
    readonly dockerfile?: string;
    readonly target?: string;
    readonly buildArgs?: Readonly<Record<string, string>>;
    /** One or many target platforms; empty means the worker's own. */
    readonly platforms?: readonly string[];
    readonly secrets?: readonly Secret[];
    readonly outputs: readonly Output[];
    readonly cache?: Cache;
    /** Ignore all cached layers (`--no-cache`). */
    readonly noCache?: boolean;
    /** Where buildctl writes the build's metadata (digest, descriptor). */
    readonly metadataFile?: string;
    /** @default "plain" (readable in logs) */
    readonly progress?: "plain" | "tty" | "auto" | "quiet";
}

/** A field of a CSV-parsed option value (`--output`, `--secret`, caches): quoted when it holds `,` or `"`. */
export function csvField(field: string): string {
    return /[",\n\r]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** `key=value` pairs joined as buildctl's CSV attribute lists. */
function attrs(pairs: readonly (readonly [string, string | undefined])[]): string {
    return pairs
        .filter((p): p is readonly [string, string] => p[1] !== undefined)
        .map(([k, v]) => csvField(`${k}=${v}`))
        .join(",");
}

const sortedEntries = (m: Readonly<Record<string, string>> = {}) =>
    Object.keys(m)
        .sort()
        .map((k) => [k, m[k]] as const);

function outputArg(o: Output): string {
    if (o.type === "image") {
        return attrs([
            ["type", "image"],
            ["name", o.names.join(",")],
            ["push", String(o.push)],
            ["registry.insecure", o.insecure === true ? "true" : undefined],
            ["unpack", o.unpack === true ? "true" : undefined],
        ]);
    }
    return attrs([
        ["type", o.type],
        ["dest", o.dest],
        ["name", o.type === "docker" || o.type === "oci" ? o.name : undefined],
    ]);
}

function cacheArgs(c: Cache | undefined): string[] {
    if (c === undefined || c.type === "none") return [];
    const insecure = (yes: boolean) => (yes ? "true" : undefined);
    switch (c.type) {
        case "registry":
            return [
                "--export-cache",
                attrs([
                    ["type", "registry"],
                    ["ref", c.ref],
                    ["mode", "max"],
                    ["ignore-error", "true"],
                    ["image-manifest", c.imageManifest ? "true" : undefined],
                    ["oci-mediatypes", c.imageManifest ? "true" : undefined],
                    ["registry.insecure", insecure(c.insecure)],
                ]),
                "--import-cache",
                attrs([
                    ["type", "registry"],
                    ["ref", c.ref],
                    ["registry.insecure", insecure(c.insecure)],
                ]),
            ];
        case "inline":
            return [
                "--export-cache",
                "type=inline",
                "--import-cache",
                attrs([
                    ["type", "registry"],
                    ["ref", c.from],
                    ["registry.insecure", insecure(c.insecure)],
                ]),
            ];
        case "local":
            return [
                "--export-cache",
                attrs([
                    ["type", "local"],
                    ["dest", c.dir],
                    ["mode", "max"],
                    ["ignore-error", "true"],
                ]),
                "--import-cache",
                attrs([
                    ["type", "local"],
                    ["src", c.dir],
                ]),
            ];
    }
}

/** The global flags that select and authenticate the daemon. */
export function connectionArgs(c: Connection | undefined): string[] {
    if (c === undefined) return [];
    const tls = c.tls;
    return [
        "--addr",
        c.addr,
        ...(tls === undefined
            ? []
            : [
                  ...(tls.serverName === undefined ? [] : ["--tlsservername", tls.serverName]),
                  "--tlscacert",
                  tls.ca,
                  "--tlscert",
                  tls.cert,
                  "--tlskey",
                  tls.key,
              ]),
    ];
}

/** The full argv after `buildctl`: global flags, then `build` and its flags. */
export function buildctlArgs(b: BuildctlBuild): string[] {
    const args = [...connectionArgs(b.connection), "build", "--progress", b.progress ?? "plain", "--frontend", "dockerfile.v0"];
    const ctx = b.context;
    if (ctx.kind === "local") {
        args.push("--local", `context=${ctx.dir}`, "--local", `dockerfile=${ctx.dockerfileDir}`);
    } else {
        args.push("--opt", `context=${ctx.url}`);
        if (ctx.dockerfileDir !== undefined) args.push("--local", `dockerfile=${ctx.dockerfileDir}`);
    }
    if (b.dockerfile !== undefined && b.dockerfile !== "Dockerfile") args.push("--opt", `filename=${b.dockerfile}`);
    if (b.target !== undefined) args.push("--opt", `target=${b.target}`);
    for (const [k, v] of sortedEntries(b.buildArgs)) args.push("--opt", `build-arg:${k}=${v}`);
    if (b.platforms !== undefined && b.platforms.length > 0) args.push("--opt", `platform=${b.platforms.join(",")}`);
    for (const s of [...(b.secrets ?? [])].sort((x, y) => x.id.localeCompare(y.id))) {
        args.push("--secret", attrs([["id", s.id], "src" in s ? ["src", s.src] : ["env", s.env]]));
    }
    for (const o of b.outputs) args.push("--output", outputArg(o));
    args.push(...cacheArgs(b.cache));
    if (b.noCache === true) args.push("--no-cache");
    if (b.metadataFile !== undefined) args.push("--metadata-file", b.metadataFile);
    return args;
}

/** `buildctl du -v` and `buildctl prune` (seed 003) against a daemon: disk hygiene commands for the docs and render. */
export function hygieneArgs(connection: Connection | undefined): { du: string[]; prune: string[] } {
    const c = connectionArgs(connection);
    return { du: [...c, "du", "-v"], prune: [...c, "prune", "--keep-duration", "168h"] };
}

/** The metadata buildctl writes with `--metadata-file`, the fields we read. */
export interface BuildMetadata {
    readonly "containerimage.digest"?: string;
    readonly "image.name"?: string;
}

/**
 * `name@sha256:…` from a build's metadata: the first image name without its tag, and the digest
 * BuildKit reported. Never computed here; throws when the metadata lacks either part.
 */
export function imageRefFromMetadata(metadata: BuildMetadata): { digest: string; ref: string; names: string[] } {
    const digest = metadata["containerimage.digest"];
    if (digest === undefined || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
        throw new Error(`the build's metadata has no containerimage.digest (got ${JSON.stringify(digest)})`);
    }
    const names = (metadata["image.name"] ?? "")
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n !== "");
    if (names.length === 0) throw new Error("the build's metadata has no image.name");
    return { digest, ref: `${repositoryOf(names[0])}@${digest}`, names };
}

/** An image reference without its tag or digest: `reg:5000/team/app:1.0` → `reg:5000/team/app`. */
export function repositoryOf(ref: string): string {
    const noDigest = ref.split("@")[0];
    const slash = noDigest.lastIndexOf("/");
    const colon = noDigest.lastIndexOf(":");
    return colon > slash ? noDigest.slice(0, colon) : noDigest;
}
