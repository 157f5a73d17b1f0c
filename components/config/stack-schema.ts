/**
 * The stack config as one schema: the single source for validation, defaults, types, the config reference
 * and the JSON Schema. Composed from the schemas by concern (./hosts.ts, ./k3s.ts, …).
 */
import { build, deployment, hostBuild } from "./builds";
import { buildkit, nerdctl } from "./buildkit";
import { cluster } from "./cluster";
import { REGISTRY_HOST, SECRET_ID, UNIX_USER } from "./fields";
import { host } from "./hosts";
import { k3s } from "./k3s";
import { proxy } from "./proxy";
import { registry } from "./registries";
import { arr, int, map, obj, optional, str } from "./schema";
import type { z } from "zod";

/** The Pulumi project name; stack config keys are `k3s-buildkit:<key>`. */
export const PROJECT = "k3s-buildkit";

/** Every key of the stack config (namespace `k3s-buildkit`). */
export const stackSchema = obj(
    {
        sshUser: str({ description: "Default SSH user for hosts.", default: "root", pattern: UNIX_USER }),
        sshPort: int({ description: "Default SSH port for hosts.", default: 22, min: 1, max: 65535 }),
        sshPrivateKey: optional(
            str({
                description: "OpenSSH private key used for every SSH host and bastion.",
                secret: true,
                multiline: true,
                maxLength: 65536,
            }),
        ),
        sshPrivateKeyPassphrase: optional(str({ description: "Passphrase of sshPrivateKey, if it is encrypted.", secret: true })),
        kubeconfig: optional(
            str({
                description: "Bring-your-own cluster: a kubeconfig used instead of a k3s server from hosts.",
                secret: true,
                multiline: true,
            }),
        ),
        hosts: arr(host, { description: "Machines to manage: k3s servers and agents.", default: [] }),
        k3s,
        buildkit,
        nerdctl,
        registries: map(registry, {
            description: "Registries by host: mirrors, plain HTTP, TLS and user names.",
            default: {},
            keyPattern: REGISTRY_HOST,
        }),
        registryPasswords: optional(
            map(str({ description: "Password or token." }), {
                description: "Registry passwords by registry host (a secret object).",
                secret: true,
                keyPattern: REGISTRY_HOST,
            }),
        ),
        cluster,
        builds: arr(build, { description: "Image builds run as Kubernetes Jobs.", default: [] }),
        hostBuilds: arr(hostBuild, { description: "Image builds on a host, into k3s's containerd.", default: [] }),
        buildSecrets: optional(
            map(str({ description: "Secret value.", multiline: true, maxLength: 65536 }), {
                description: "Build secrets and git tokens by id (a secret object).",
                secret: true,
                keyPattern: SECRET_ID,
            }),
        ),
        deployments: arr(deployment, { description: "Deployments that run built images by digest.", default: [] }),
        proxy,
    },
    { description: "Stack config." },
);

/** The validated stack config, defaults applied. Secret values are plain here; see {@link StackConfig}. */
export type ParsedConfig = z.output<typeof stackSchema>;
export type HostConfig = ParsedConfig["hosts"][number];
