/**
 * A Node.js language plugin for the Pulumi CLI (`pulumi-language-nodejs`), for machines where Pulumi's
 * own cannot be had: its Go module is not served by the module proxy these machines reach (see
 * scripts/engine.sh). It implements the part of the LanguageRuntime protocol that `pulumi preview /
 * up / refresh / destroy` use, the way Pulumi's host does it:
 *
 * - `Run` starts `node @pulumi/pulumi/cmd/run` (the SDK's own program runner, resolved from the
 *   program's node_modules) with the flags Pulumi's host passes (`--monitor`, `--engine`,
 *   `--organization`, `--project`, `--root-directory`, `--stack`, `--pwd`, `--dry-run`, `--parallel`,
 *   the entry point, the args), the config as `PULUMI_CONFIG` (keys as `<ns>:config:<name>`) and
 *   `PULUMI_CONFIG_SECRET_KEYS`, and `PULUMI_NODEJS_TYPESCRIPT` from the project's runtime options;
 *   exit code 32 ("error already shown") is a bail, any other non-zero code an error.
 * - `GetRequiredPlugins` / `GetRequiredPackages` answer with none: plugins are loaded as resources
 *   register (they are installed beforehand; automatic acquisition is off).
 * - `GetPluginInfo` answers the @pulumi/pulumi version.
 *
 * What it does not do (Pulumi's does): synchronous invokes over pipes (`--sync`; this program makes
 * none), a proxy in front of the resource monitor (tracing only), `InstallDependencies`, `About`,
 * debugging, code generation. Started as `pulumi-language-nodejs [-flags] <engine address>`; prints
 * its port on stdout, as every plugin does.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import * as langrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";

/** `@pulumi/pulumi/cmd/run`'s exit code for "the error was already shown to the user". */
const EXIT_ALREADY_REPORTED = 32;

/** The flags and environment of the program run, from a RunRequest. Pure; exported for tests. */
export function runInvocation(
    req: langproto.RunRequest,
    engineAddress: string,
    runPath: string,
): { args: string[]; env: Record<string, string> } {
    const info = req.getInfo();
    const args = [runPath];
    const flag = (name: string, value: string) => {
        if (value !== "") args.push(`--${name}`, value);
    };
    flag("monitor", req.getMonitorAddress());
    flag("engine", engineAddress);
    flag("organization", req.getOrganization());
    flag("project", req.getProject());
    flag("root-directory", info?.getRootDirectory() ?? "");
    flag("stack", req.getStack());
    flag("pwd", info?.getProgramDirectory() ?? req.getPwd());
    if (req.getDryrun()) args.push("--dry-run");
    flag("parallel", String(req.getParallel()));
    args.push(info?.getEntryPoint() || ".", ...req.getArgsList());

    const config: Record<string, string> = {};
    for (const [key, value] of req.getConfigMap().entries()) {
        const i = key.indexOf(":");
        config[i < 0 ? key : `${key.slice(0, i)}:config:${key.slice(i + 1)}`] = value;
    }
    const options = (info?.getOptions()?.toJavaScript() ?? {}) as Record<string, unknown>;
    const env: Record<string, string> = {
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
    };
    if (options.typescript !== false) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (typeof options.tsconfig === "string") env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
    return { args, env };
}

function serve(engineAddress: string): void {
    const sdkVersion = (createRequire(__filename)("@pulumi/pulumi/package.json") as { version: string }).version;
    const running = new Set<ReturnType<typeof spawn>>();
    const impl: Partial<langrpc.ILanguageRuntimeServer> = {
        getRequiredPlugins: (_call, cb) => cb(null, new langproto.GetRequiredPluginsResponse()),
        getRequiredPackages: (_call, cb) => cb(null, new langproto.GetRequiredPackagesResponse()),
        getPluginInfo: (_call, cb) => cb(null, new plugproto.PluginInfo().setVersion(sdkVersion)),
        cancel: (_call, cb) => {
            for (const child of running) child.kill("SIGINT");
            cb(null, new Empty());
        },
        run: (call, cb) => {
            const req = call.request;
            const dir = req.getInfo()?.getProgramDirectory() || req.getPwd() || process.cwd();
            const resp = new langproto.RunResponse();
            let runPath: string;
            try {
                runPath = createRequire(join(dir, "package.json")).resolve("@pulumi/pulumi/cmd/run");
            } catch (e) {
                cb(null, resp.setError(`cannot find @pulumi/pulumi in ${dir} (run npm ci): ${(e as Error).message}`));
                return;
            }
            const { args, env } = runInvocation(req, engineAddress, runPath);
            const child = spawn(process.execPath, args, {
                cwd: dir,
                env: { ...process.env, ...env },
                stdio: ["ignore", "inherit", "inherit"],
            });
            running.add(child);
            // A failed spawn emits "error" and may still emit "close": answer once.
            let answered = false;
            const answer = (r: langproto.RunResponse) => {
                if (answered) return;
                answered = true;
                running.delete(child);
                cb(null, r);
            };
            child.on("error", (e) => answer(resp.setError(`could not run the program: ${e.message}`)));
            child.on("close", (code, signal) => {
                if (code === 0) answer(resp);
                else if (code === EXIT_ALREADY_REPORTED) answer(resp.setBail(true));
                else answer(resp.setError(`Program exited with non-zero exit code: ${code ?? signal}`));
            });
        },
    };
    const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
    server.addService(langrpc.LanguageRuntimeService, impl as langrpc.ILanguageRuntimeServer);
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
            process.stderr.write(`pulumi-language-nodejs: ${err.message}\n`);
            process.exit(1);
        }
        process.stdout.write(`${port}\n`);
    });
}

if (require.main === module) {
    // The engine's address is the last argument (flags such as -tracing come before it).
    const engineAddress = process.argv[process.argv.length - 1] ?? "";
    serve(engineAddress);
}
