/**
 * How a script reaches a host: over SSH or on the machine that runs Pulumi, as root or through
 * passwordless sudo. One function ({@link runnerCommand}) builds the command line that runs a script
 * fed on stdin; the same line is used by `@pulumi/command` resources and by the drift-detecting
 * dynamic resources, so both behave alike.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionConfig, StackSecrets } from "../config";

/** Exit code of {@link runnerCommand} when sudo needs a password. */
export const SUDO_EXIT_CODE = 97;

/**
 * The command line that runs a script read from stdin, as root. Without sudo it is `bash -s`;
 * with sudo it first checks that `sudo -n` works and otherwise fails with a message that says how to
 * fix it. Nothing secret is ever part of this line: parameters travel inside the script on stdin.
 * Written in POSIX sh, since it is read by the login shell (remote) or `/bin/sh -c` (local).
 */
export function runnerCommand(sudo: boolean): string {
    if (!sudo) return "bash -s";
    return (
        `if ! sudo -n true 2>/dev/null; then ` +
        `echo "k3s-buildkit: user $(id -un) on $(hostname) cannot run sudo without a password; ` +
        `allow it with: echo \\"$(id -un) ALL=(ALL) NOPASSWD:ALL\\" > /etc/sudoers.d/k3s-buildkit" >&2; ` +
        `exit ${SUDO_EXIT_CODE}; fi; exec sudo -n bash -s`
    );
}

/** A connection with its secrets, as components carry it. */
export interface HostConnection {
    readonly config: ConnectionConfig;
    /** Secret OpenSSH private key; required for ssh connections. */
    readonly privateKey?: pulumi.Input<string>;
    /** Secret passphrase of the private key. */
    readonly privateKeyPassphrase?: pulumi.Input<string>;
}

/** Builds a {@link HostConnection} from a host's connection config and the stack secrets. */
export function hostConnection(config: ConnectionConfig, secrets: StackSecrets): HostConnection {
    if (config.kind === "local") return { config };
    return {
        config,
        ...(secrets.sshPrivateKey === undefined ? {} : { privateKey: secrets.sshPrivateKey }),
        ...(secrets.sshPrivateKeyPassphrase === undefined ? {} : { privateKeyPassphrase: secrets.sshPrivateKeyPassphrase }),
    };
}

/** `@pulumi/command` remote connection args for an ssh connection. Key and passphrase stay secret. */
export function remoteConnectionArgs(conn: HostConnection): command.types.input.remote.ConnectionArgs {
    const c = conn.config;
    if (c.kind !== "ssh") throw new Error("remoteConnectionArgs: not an ssh connection");
    const privateKey = conn.privateKey === undefined ? undefined : pulumi.secret(conn.privateKey);
    const privateKeyPassword = conn.privateKeyPassphrase === undefined ? undefined : pulumi.secret(conn.privateKeyPassphrase);
    return {
        host: c.host,
        port: c.port,
        user: c.user,
        dialErrorLimit: c.dialErrorLimit,
        perDialTimeout: c.dialTimeoutSeconds,
        ...(privateKey === undefined ? {} : { privateKey }),
        ...(privateKeyPassword === undefined ? {} : { privateKeyPassword }),
        ...(c.hostKey === undefined ? {} : { hostKey: c.hostKey }),
        ...(c.bastion === undefined
            ? {}
            : {
                  proxy: {
                      host: c.bastion.host,
                      port: c.bastion.port,
                      user: c.bastion.user,
                      dialErrorLimit: c.dialErrorLimit,
                      perDialTimeout: c.dialTimeoutSeconds,
                      ...(privateKey === undefined ? {} : { privateKey }),
                      ...(privateKeyPassword === undefined ? {} : { privateKeyPassword }),
                      ...(c.bastion.hostKey === undefined ? {} : { hostKey: c.bastion.hostKey }),
                  },
              }),
    };
}

/**
 * The plain, serializable connection the dynamic resources carry in their inputs and state.
 * Its secret fields make the whole value a secret Output.
 */
export type TransportTarget =
    | {
          readonly kind: "ssh";
          readonly host: string;
          readonly port: number;
          readonly user: string;
          readonly sudo: boolean;
          readonly privateKey: string;
          readonly privateKeyPassphrase?: string;
          readonly hostKey?: string;
          readonly bastion?: { readonly host: string; readonly port: number; readonly user: string; readonly hostKey?: string };
          readonly dialErrorLimit: number;
          readonly dialTimeoutSeconds: number;
      }
    | { readonly kind: "local"; readonly sudo: boolean };

/** The {@link TransportTarget} input for dynamic resources: a secret Output when it holds a key. */
export function transportTarget(conn: HostConnection): pulumi.Input<TransportTarget> {
    const c = conn.config;
    if (c.kind === "local") return { kind: "local", sudo: c.sudo };
    if (conn.privateKey === undefined) throw new Error(`ssh connection to ${c.host} has no private key`);
    return pulumi.secret(
        pulumi.all([conn.privateKey, conn.privateKeyPassphrase]).apply(([privateKey, passphrase]) => ({
            ...c,
            privateKey,
            ...(passphrase === undefined ? {} : { privateKeyPassphrase: passphrase }),
        })),
    );
}

/** A short human label for a target, used in resource IDs and error messages (never secret). */
export function targetLabel(t: TransportTarget | ConnectionConfig): string {
    return t.kind === "local" ? "local" : `${t.user}@${t.host}:${t.port}`;
}
