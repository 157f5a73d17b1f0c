/** Stack config: registries (mirrors, plain HTTP, TLS, user names). */
import { REGISTRY_HOST } from "./fields";
import { arr, bool, obj, optional, str } from "./schema";

export const registry = obj(
    {
        mirrors: arr(str({ description: "A mirror host.", pattern: REGISTRY_HOST }), {
            description: "Build-time mirrors: BuildKit pulls through them (buildkitd.toml).",
            default: [],
        }),
        runtimeMirrors: arr(str({ description: "A mirror host.", pattern: REGISTRY_HOST }), {
            description: "Run-time mirrors: k3s's containerd pulls pod images through them (registries.yaml).",
            default: [],
        }),
        http: bool({ description: "The registry speaks plain HTTP.", default: false }),
        insecure: bool({ description: "HTTPS with a certificate that is not verified.", default: false }),
        ca: optional(str({ description: "PEM CA certificate that signs the registry's certificate.", multiline: true, maxLength: 65536 })),
        username: optional(str({ description: "User name; the password goes in the secret registryPasswords." })),
    },
    { description: "Settings for one registry, keyed by its host." },
);
