/**
 * Install steps as `@pulumi/command` resources: a script fed on stdin to {@link runnerCommand},
 * over SSH (`remote.Command`) or on the machine that runs Pulumi (`local.Command`).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { type HostConnection, remoteConnectionArgs } from "./connection";
import { runnerCommand } from "./runner";

export interface HostCommandArgs {
    readonly connection: HostConnection;
    /** Script run on create (and on update when it changes), fed on stdin. */
    readonly create: pulumi.Input<string>;
    /**
     * Script run on delete (`pulumi destroy`, or before a replacement). Omit for steps that leave
     * nothing to undo. It must hold no secret: it is a plain string, see {@link deleteCommandLine}.
     */
    readonly delete?: string;
    /** Values whose change re-runs the step (replacement). @default [] */
    readonly triggers?: pulumi.Input<unknown[]>;
    /** The script carries a secret: stdin is a secret Output and nothing is logged. @default false */
    readonly secretScript?: boolean;
    /** The step prints a secret: stdout/stderr are secret outputs and nothing is logged. @default false */
    readonly secretOutput?: boolean;
}

/**
 * The command line for a delete step. The command provider's docs do not promise that `stdin` reaches
 * `delete`, so the (never secret) delete script is carried base64-encoded on the line and decoded
 * into the runner's stdin.
 */
export function deleteCommandLine(script: string, sudo: boolean): string {
    const b64 = Buffer.from(script, "utf8").toString("base64");
    return `printf '%s' '${b64}' | base64 -d | { ${runnerCommand(sudo)}; }`;
}

/**
 * One step on a host. The create script travels on stdin and the create command line is the fixed
 * runner, so a failed step's error text (which quotes the command line) never contains a secret.
 */
export function hostCommand(
    name: string,
    args: HostCommandArgs,
    opts: pulumi.CustomResourceOptions,
): command.remote.Command | command.local.Command {
    const conn = args.connection;
    const runner = runnerCommand(conn.config.sudo);
    const stdin = args.secretScript === true ? pulumi.secret(args.create) : args.create;
    const quiet = args.secretScript === true || args.secretOutput === true;
    const common = {
        create: runner,
        ...(args.delete === undefined ? {} : { delete: deleteCommandLine(args.delete, conn.config.sudo) }),
        stdin,
        ...(args.triggers === undefined ? {} : { triggers: args.triggers }),
        ...(quiet ? { logging: "none" as const } : {}),
    };
    const options: pulumi.CustomResourceOptions = {
        ...opts,
        ...(quiet ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}),
    };
    if (conn.config.kind === "local") {
        return new command.local.Command(name, { ...common, interpreter: ["/bin/sh", "-c"] }, options);
    }
    return new command.remote.Command(name, { ...common, connection: remoteConnectionArgs(conn) }, options);
}
