// The mlp extension: starts `mlpc lsp` over stdio and connects it to VS Code with
// vscode-languageclient. Highlighting comes from syntaxes/mlp.tmLanguage.json; the
// server adds diagnostics, hover, go to definition, references, rename, completion,
// outline, formatting, signature help, quick fixes and semantic tokens.

import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import {
  Executable,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

/** The configured `mlpc.path`, with `~` and `${workspaceFolder}` expanded. */
function serverCommand(): string {
  const configured = vscode.workspace.getConfiguration("mlpc").get<string>("path", "mlpc").trim() || "mlpc";
  let command = configured;
  if (command === "~" || command.startsWith("~/")) {
    command = path.join(os.homedir(), command.slice(1));
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (folder) {
    command = command.replace(/\$\{workspaceFolder\}/g, folder);
  }
  return command;
}

async function startClient(): Promise<void> {
  const command = serverCommand();
  const run: Executable = { command, args: ["lsp"], transport: TransportKind.stdio };
  const serverOptions: ServerOptions = { run, debug: run };
  output ??= vscode.window.createOutputChannel("mlpc");
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "mlp" }],
    synchronize: {
      // Imported files that are not open are read from disk: recheck when they change.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.mlp"),
    },
    outputChannel: output,
    traceOutputChannel: output,
  };
  client = new LanguageClient("mlpc", "mlpc language server", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    const message = err instanceof Error ? err.message : String(err);
    void vscode.window
      .showErrorMessage(
        `Could not start the mlp language server \`${command} lsp\`: ${message}. ` +
          "Install mlpc or point the `mlpc.path` setting at the binary.",
        "Open Settings",
      )
      .then((choice) => {
        if (choice === "Open Settings") {
          void vscode.commands.executeCommand("workbench.action.openSettings", "mlpc.path");
        }
      });
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop();
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("mlpc.restartServer", async () => {
      await stopClient();
      await startClient();
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("mlpc.path")) {
        await stopClient();
        await startClient();
      }
    }),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
