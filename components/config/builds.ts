/** Stack config: image builds (in the cluster and on hosts) and the Deployments that run them. */
import {
    BUILD_ARG_NAME,
    CONTEXT_PATH,
    exactlyOne,
    GIT_REF,
    gitRefProblem,
    HOST_NAME,
    HTTP_URL,
    IMAGE_REF,
    K8S_NAME,
    PLATFORM,
    SECRET_ID,
} from "./fields";
import { arr, bool, int, map, MAX_LENGTH, obj, optional, str } from "./schema";

/** Fields shared by in-cluster builds and host builds: the Dockerfile frontend's options. */
export const dockerfileFields = {
    dockerfile: str({ description: "Path of the Dockerfile inside the context.", default: "Dockerfile", pattern: CONTEXT_PATH }),
    dockerfileInline: optional(
        str({
            description: "Dockerfile content given inline (used instead of the context's Dockerfile; no `# syntax=` line needed).",
            multiline: true,
        }),
    ),
    target: optional(str({ description: "Dockerfile stage to build.", pattern: { regex: /^[A-Za-z0-9_.-]+$/, expected: "a stage name" } })),
    buildArgs: map(str({ description: "Value.", nonEmpty: false, multiline: true, maxLength: MAX_LENGTH.arg }), {
        description: "Build arguments (`--opt build-arg:K=V`).",
        default: {},
        keyPattern: BUILD_ARG_NAME,
    }),
    platforms: arr(str({ description: "A platform.", pattern: PLATFORM }), {
        description: "Target platforms, one or many (empty: the daemon's own).",
        default: [],
    }),
    secrets: arr(str({ description: "A key of buildSecrets.", pattern: SECRET_ID }), {
        description: "Build secrets passed with `--secret id=<key>` (values from the secret buildSecrets).",
        default: [],
    }),
    trigger: optional(str({ description: "Free-form value; change it to force a rebuild with unchanged inputs." })),
};

export const gitContext = {
    git: optional(
        str({
            description: "Git URL of the context.",
            pattern: {
                regex: /^(?:https?|ssh|git):\/\/[^\s'"`$\\#]+$|^git@[^\s'"`$\\#]+:[^\s'"`$\\#]+$/,
                expected: "a git URL without '#'",
            },
        }),
    ),
    ref: optional(
        str({
            description:
                "Git branch, tag or full commit SHA (pin a commit: a moving branch does not trigger a rebuild; BuildKit cannot fetch an abbreviated SHA).",
            pattern: GIT_REF,
            check: gitRefProblem,
        }),
    ),
    subdir: optional(str({ description: "Subdirectory of the repository.", pattern: CONTEXT_PATH })),
    gitTokenSecret: optional(
        str({ description: "Key of buildSecrets holding a token for a private HTTPS repository (GIT_AUTH_TOKEN).", pattern: SECRET_ID }),
    ),
};
export const inlineFiles = optional(
    map(str({ description: "File content.", nonEmpty: false, multiline: true }), {
        description: "Inline files: relative path → content (e.g. a Dockerfile with here-documents).",
        keyPattern: CONTEXT_PATH,
    }),
);

export const build = obj(
    {
        name: str({ description: "Unique build name.", pattern: HOST_NAME }),
        context: obj(
            {
                ...gitContext,
                url: optional(str({ description: "HTTP(S) tarball URL of the context.", pattern: HTTP_URL })),
                files: inlineFiles,
            },
            {
                description: "Where the build context comes from: exactly one of git, url, files.",
                checkObject: exactlyOne(["git", "url", "files"]),
            },
        ),
        ...dockerfileFields,
        tags: arr(str({ description: "An image reference.", pattern: IMAGE_REF }), {
            description: "Image references the build produces (pushed when push is true).",
            minItems: 1,
        }),
        push: bool({ description: "Push the image to its registry (the default output).", default: true }),
        exports: arr(
            obj(
                {
                    type: str({ description: "Export type.", enum: ["oci", "docker", "tar", "local"] as const }),
                    claimName: str({
                        description: "PersistentVolumeClaim (in the cluster namespace) the export is written to.",
                        pattern: K8S_NAME,
                    }),
                    path: str({ description: "Path inside the volume (a file; a directory for local).", pattern: CONTEXT_PATH }),
                },
                { description: "An extra export written to a volume." },
            ),
            { description: "Extra exports besides the image: oci, docker, tar or local, on a volume.", default: [] },
        ),
        cache: obj(
            {
                type: str({
                    description:
                        "registry: a cache image (mode=max); inline: in the pushed image; local: on a volume; none: no import/export.",
                    enum: ["registry", "inline", "local", "none"] as const,
                    default: "registry",
                }),
                ref: optional(
                    str({
                        description: "Registry cache image (default: the first tag's repository with tag buildcache).",
                        pattern: IMAGE_REF,
                    }),
                ),
                imageManifest: bool({
                    description:
                        "Store the registry cache as an OCI image manifest, for registries that refuse cache manifests (e.g. OCIR, older ECR).",
                    default: false,
                }),
                claimName: optional(str({ description: "PersistentVolumeClaim for type local.", pattern: K8S_NAME })),
            },
            { description: "Build cache.", default: {} },
        ),
        backoffLimit: int({ description: "Retries of a failed build Job.", default: 1, min: 0, max: 10 }),
        timeoutMinutes: int({
            description: "Deadline of the build Job (activeDeadlineSeconds) and of waiting for it.",
            default: 30,
            min: 1,
            max: 1440,
        }),
    },
    { description: "An image build run as a Kubernetes Job against the in-cluster daemon." },
);

export const hostBuild = obj(
    {
        name: str({ description: "Unique host build name.", pattern: HOST_NAME }),
        host: optional(str({ description: "Name of the host that builds (default: the first host).", pattern: HOST_NAME })),
        context: obj(
            {
                dir: optional(
                    str({
                        description:
                            "Directory on the machine running Pulumi (relative to the project), copied to the host; .dockerignore applies.",
                        pattern: { regex: /^[A-Za-z0-9._+@/-]+$/, expected: "a directory path of plain characters, like ./devcontainer" },
                    }),
                ),
                ...gitContext,
                files: inlineFiles,
            },
            {
                description: "Where the build context comes from: exactly one of dir, git, files.",
                checkObject: exactlyOne(["dir", "git", "files"]),
            },
        ),
        ...dockerfileFields,
        tags: arr(str({ description: "An image reference.", pattern: IMAGE_REF }), {
            description: "Names the image gets in k3s's containerd.",
            minItems: 1,
        }),
        push: bool({ description: "Also push the image to its registry.", default: false }),
        keep: int({
            description:
                "Digest references kept per build in k3s's containerd: the newest is what Deployments run, older ones stay for pods still rolling off.",
            default: 2,
            min: 1,
            max: 50,
        }),
    },
    { description: "A build on a host with the host's BuildKit, straight into k3s's containerd (seed 000)." },
);

export const deployment = obj(
    {
        name: str({ description: "Deployment name.", pattern: K8S_NAME }),
        namespace: str({ description: "Namespace (must exist).", default: "default", pattern: K8S_NAME }),
        build: str({ description: "Name of the builds[] or hostBuilds[] entry whose image it runs, by digest.", pattern: HOST_NAME }),
        replicas: int({ description: "Replicas.", default: 1, min: 0, max: 100 }),
        command: arr(str({ description: "An argument.", nonEmpty: false, multiline: true, maxLength: MAX_LENGTH.arg }), {
            description: "Container command (empty: the image's).",
            default: [],
        }),
    },
    { description: "A Deployment running a built image by digest: a new build rolls it out (seed 000's devcontainer)." },
);
