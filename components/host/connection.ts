/**
 * How a host is reached, as components carry it (with its secrets as Outputs), and the target it
 * becomes for the dynamic resources that act on it. The runner
 * command line and the serializable target live in ./runner.ts.
 */
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

const targets = new WeakMap<HostConnection, pulumi.Input<TransportTarget>>();

/**
 * The {@link TransportTarget} input for dynamic resources: a secret Output when it holds a key. One per
 * connection, shared by all the resources that use it (a host has about twenty).
 */
export function transportTarget(conn: HostConnection): pulumi.Input<TransportTarget> {
    let t = targets.get(conn);
    if (t === undefined) {
        t = newTransportTarget(conn);
        targets.set(conn, t);
    }
    return t;
}

function newTransportTarget(conn: HostConnection): pulumi.Input<TransportTarget> {
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
