/**
 * k3s-buildkit: read and validate the stack config, compose the components, export outputs.
 * Nothing else lives here; see components/.
 */
import { loadStackConfig } from "./components/config";
import { Platform } from "./components/platform";

const platform = new Platform("k3s-buildkit", loadStackConfig());

/** Per host: role, architecture, installed versions, checksums and the BuildKit address. */
export const hosts = platform.hosts;
/** Admin kubeconfig of the first server, its address rewritten (secret). */
export const kubeconfig = platform.kubeconfig;
/** The in-cluster buildkitd: namespace, `kube-pod://` and `tcp://` addresses, cache usage per pod (read by refresh). */
export const buildkitDaemon =
    platform.cluster === undefined
        ? undefined
        : {
              namespace: platform.cluster.namespace,
              kubePodAddress: platform.cluster.kubePodAddress,
              serviceAddress: platform.cluster.serviceAddress,
              cacheUsage: platform.cluster.cacheUsage,
          };
/** Client certificate bundle (ca, cert, key) for `buildctl --addr tcp://…` with mutual TLS (secret). */
export const buildkitClientTls = platform.cluster?.clientTls;
/** Every build by name: the image reference by digest (`repository@sha256:…`), the digest, and the Job or host that built it. */
export const builds = platform.builds;
/** HA stacks: the etcd snapshot taken on the first server before the last k3s version change (docs/runbooks.md). */
export const etcdSnapshot = platform.etcdSnapshot;
/** `docker buildx` builders for the in-cluster daemon and each host's, as shell lines (README: "buildx"). */
export const buildx = platform.buildx;
