// imgsearch serve: the database over HTTP until SIGINT or SIGTERM.
#include <cstdio>
#include <thread>

#include "base/env.h"
#include "base/memory.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "server/server.h"

namespace imgsearch::cli {
namespace {

struct ServeOptions {
  std::string db;
  server::ServerOptions server;
  std::vector<std::string> tokens;  // TOKEN or TOKEN:write
};

int RunServe(ServeOptions options) {
  base::LimitMallocArenas(2);  // before the server starts its threads
  for (const std::string& t : options.tokens) {
    bool write = t.size() > 6 && t.compare(t.size() - 6, 6, ":write") == 0;
    std::string value = write ? t.substr(0, t.size() - 6) : t;
    if (value.size() < 16) {
      PrintError("tokens must be at least 16 characters");
      return kExitUsage;
    }
    options.server.tokens.push_back({value, write});
  }
  // SIGINT/SIGTERM write a byte to a pipe; a thread waiting on it stops the server, so
  // running requests finish and every acknowledged write is already committed. (A
  // handler, not a blocked-signal sigwait: libraries such as OpenBLAS start threads before
  // main, and the kernel may deliver the signal to any of them.)
  if (!InstallStopSignals()) return PrintError("cannot create the signal pipe"), kExitFailure;
  options.server.milvus = StoreMilvusOptions();
  bool existed = IsMilvusLocation(options.db) ||
                 base::Env::Default()->FileExists(options.db + "/imgsearch.db");
  auto server = server::Server::Create(options.db, options.server);
  if (!server.ok()) return PrintError(server.status()), kExitFailure;
  if (!existed) {
    std::fprintf(stderr,
                 "created an empty imgsearch library in %s (index images into it with "
                 "`imgsearch index DIR --db %s` or upload them)\n",
                 options.db.c_str(), options.db.c_str());
  }
  if (!options.server.watch.folders.empty()) {
    std::fprintf(stderr,
                 "watching %zu folder(s): changes are indexed within seconds (progress in the "
                 "log with --log-level info, and in /metrics)\n",
                 options.server.watch.folders.size());
  }
  auto port = (*server)->Bind();
  if (!port.ok()) return PrintError(port.status()), kExitFailure;
  std::printf("imgsearch serving %s on http://%s:%d\n", options.db.c_str(),
              options.server.host.c_str(), *port);
  if (int grpc_port = (*server)->grpc_port(); grpc_port != 0) {
    std::printf("Milvus gRPC (pymilvus and the other Milvus SDKs) on %s:%d\n",
                options.server.host.c_str(), grpc_port);
  }
  std::fflush(stdout);
  std::thread waiter([&] {
    WaitForStopSignal();
    (*server)->Stop();
  });
  (*server)->Run();
  RaiseStopSignal();  // Run returned on its own: release the waiter
  waiter.join();
  std::printf("imgsearch stopped\n");
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* cmd =
      app.add_subcommand("serve", "Serve a database over HTTP: JSON API, Milvus REST v2, web page");
  cmd->add_option("--db", options->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("--host", options->server.host, "Address to bind (default 127.0.0.1)");
  cmd->add_option("--port", options->server.port, "Port (0: any free one)")
      ->check(CLI::Range(0, 65535));
  options->server.grpc_port = 19530;  // Milvus's own port
  CLI::Option* grpc_port =
      cmd->add_option(
             "--grpc-port", options->server.grpc_port,
             "Port of Milvus's gRPC protocol, for pymilvus and other Milvus SDKs "
             "(default 19530, skipped with a warning when taken; 0: off; -1: any free port)")
          ->check(CLI::Range(-1, 65535));
  cmd->add_option("--token", options->tokens,
                  "Bearer token, TOKEN (read) or TOKEN:write (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--cors-origin", options->server.cors_origins,
                  "A browser origin allowed to call the API, e.g. https://app.example "
                  "(repeatable; default none)")
      ->allow_extra_args(false);
  cmd->add_option("--time-limit", options->server.request_time_limit_seconds,
                  "Seconds a search or query may take before it is answered with 503")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--redis-url", options->server.redis_url,
                  "Mirror id -> path and fields into Redis (redis://HOST:PORT/DB), kept in step");
  cmd->add_option("--uploads", options->server.uploads_dir,
                  "Folder for uploaded images (default: DB/uploads; needed with --db milvus://, "
                  "shared by every serve process in front of one Milvus)");
  cmd->add_flag("--milvus-http-status", options->server.milvus_http_status,
                "Milvus routes also report errors in the HTTP status (Milvus itself uses 200)");
  cmd->add_option("--threads", options->server.threads, "Connections served at once")
      ->check(CLI::Range(2, 1024));
  cmd->add_option("--watch", options->server.watch.folders,
                  "Keep the library in step with this folder: new, changed, moved and removed "
                  "images are indexed or removed within seconds (repeatable)")
      ->allow_extra_args(false);
  AddWatchTuning(cmd, &options->server.watch);
  cmd->callback([options, exit_code, grpc_port] {
    options->server.grpc_required = grpc_port->count() > 0;
    *exit_code = RunServe(*options);
  });
}

}  // namespace imgsearch::cli
