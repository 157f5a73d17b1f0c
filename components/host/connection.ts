/**
 * How a host is reached, as components carry it (with its secrets as Outputs), and the arguments it
 * becomes for `@pulumi/command` resources and for the drift-detecting dynamic resources. The runner
 * command line and the serializable target live in ./runner.ts.
 */
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionConfig, StackSecrets } from "../config";
import type { TransportTarget } from "./runner";

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
