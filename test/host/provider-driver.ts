/**
 * Drives a dynamic provider the way the Pulumi engine does, with every method present (the SDK's
 * interface marks them optional). Used by the real-host tests.
 */
import type * as pulumi from "@pulumi/pulumi";
import { type HostFileInputs, type HostFileState, hostFileProvider } from "../../components/host/host-file-provider";
import { type SystemdServiceInputs, type SystemdServiceState, systemdServiceProvider } from "../../components/host/host-service-provider";

export interface Driver<I, S> {
    check(olds: Partial<I>, news: I): Promise<pulumi.dynamic.CheckResult<I>>;
    create(inputs: I): Promise<{ id: string; outs: S }>;
    read(id: string, props: S): Promise<{ id: string; props: S }>;
    diff(id: string, olds: S, news: I): Promise<pulumi.dynamic.DiffResult>;
    update(id: string, olds: S, news: I): Promise<{ outs: S }>;
    delete(id: string, props: S): Promise<void>;
}

function driver<I, S>(p: pulumi.dynamic.ResourceProvider<I, S>): Driver<I, S> {
    const need = <T>(f: T | undefined, name: string): T => {
        if (f === undefined) throw new Error(`provider has no ${name}`);
        return f;
    };
    return {
        check: (olds, news) => need(p.check, "check")(olds as I, news),
        create: async (inputs) => {
            const r = await p.create(inputs);
            return { id: r.id, outs: r.outs as S };
        },
        read: async (id, props) => {
            const r = await need(p.read, "read")(id, props);
            return { id: r.id ?? "", props: r.props as S };
        },
        diff: (id, olds, news) => need(p.diff, "diff")(id, olds, news),
        update: async (id, olds, news) => ({ outs: (await need(p.update, "update")(id, olds, news)).outs as S }),
        delete: (id, props) => need(p.delete, "delete")(id, props),
    };
}

export const fileProvider = (): Driver<HostFileInputs, HostFileState> => driver(hostFileProvider);
export const serviceProvider = (): Driver<SystemdServiceInputs, SystemdServiceState> => driver(systemdServiceProvider);
