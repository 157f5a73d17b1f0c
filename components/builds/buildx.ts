/**
 * `docker buildx` builders for the stack's daemons (seed 003 §5), as shell lines to copy: the in-cluster
 * daemon through the remote driver with mutual TLS, and each host daemon's socket forwarded over SSH.
 * Exported as the `buildx` stack output and written by `npm run render` (buildx.sh). Pure.
 */
import type { ConnectionConfig } from "../config";
import { DAEMON_NAME, DAEMON_PORT } from "./daemon";
import { BUILDKIT_SOCKET_PATH } from "../render/systemd-unit";
import { shellQuote, shellWords } from "../render/shell";

/** Builder name for a stack's daemon. */
export const builderName = (stack: string, daemon: string) => `k3s-buildkit-${stack}-${daemon}`;

/**
 * The in-cluster daemon: the client bundle (the `buildkitClientTls` output) written to 0600 files by a
 * one-liner, a port-forward to its Service, and a remote builder that checks the server's name.
 */
export function clusterBuildx(stack: string, namespace: string): string {
    const dir = `$HOME/.k3s-buildkit/${stack}`;
    const certs = ["ca", "cert", "key"]
        .map(
            (k) =>
                `pulumi stack output buildkitClientTls --show-secrets --json --stack ${shellQuote(stack)} | jq -r .${k} > "${dir}/${k}.pem"`,
        )
        .join("\n");
    const opts = `cacert=${dir}/ca.pem,cert=${dir}/cert.pem,key=${dir}/key.pem,servername=${DAEMON_NAME}.${namespace}.svc`;
    return [
        "# The in-cluster daemon, with mutual TLS: the client bundle in files only you can read,",
        `(umask 077 && mkdir -p "${dir}" && {`,
        certs,
        "})",
        "# its Service forwarded to this machine (keep it running while you build),",
        `kubectl -n ${shellQuote(namespace)} port-forward svc/${DAEMON_NAME} ${DAEMON_PORT}:${DAEMON_PORT} &`,
        "# and a builder that checks the server's certificate name:",
        `docker buildx create --name ${builderName(stack, "cluster")} --driver remote --driver-opt "${opts}" tcp://127.0.0.1:${DAEMON_PORT}`,
        `docker buildx build --builder ${builderName(stack, "cluster")} -t registry.example.com/app:dev --push .`,
        "",
    ].join("\n");
}

/**
 * A host daemon: on the host itself the builder uses its socket; from elsewhere the socket is forwarded
 * over SSH (through the bastion, if any) as the stack's SSH user, who must be root or in the socket's group.
 */
export function hostBuildx(stack: string, host: string, c: ConnectionConfig): string {
    const name = builderName(stack, host);
    if (c.kind === "local") {
        return [`# ${host} (this machine):`, `docker buildx create --name ${name} --driver remote unix://${BUILDKIT_SOCKET_PATH}`, ""].join(
            "\n",
        );
    }
    const local = `$HOME/.k3s-buildkit/${stack}/${host}.sock`;
    const jump = c.bastion === undefined ? [] : ["-J", `${c.bastion.user}@${c.bastion.host}:${c.bastion.port}`];
    const ssh = shellWords(["ssh", "-N", "-p", String(c.port), ...jump, "-L", `LOCAL:${BUILDKIT_SOCKET_PATH}`, `${c.user}@${c.host}`]);
    return [
        `# ${host}: its BuildKit socket forwarded over SSH (keep it running while you build), then a builder on it:`,
        `mkdir -p "$HOME/.k3s-buildkit/${stack}" && rm -f "${local}"`,
        `${ssh.replace("LOCAL:", `"${local}":`)} &`,
        `docker buildx create --name ${name} --driver remote "unix://${local}"`,
        "",
    ].join("\n");
}
