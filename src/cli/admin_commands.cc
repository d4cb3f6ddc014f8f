// imgsearch collections, stats, delete, export: looking after a database from scripts.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/session.h"
#include "pipeline/search.h"

namespace imgsearch::cli {
namespace {

struct AdminOptions {
  std::string db;
  std::vector<std::string> models;
  std::vector<std::string> targets;  // delete: id:N or paths
  std::string filter;
  std::string format = "jsonl";
  std::string output;
  std::string redis_url;
  bool json = false;
};

Result<std::unique_ptr<Database>> OpenExisting(const std::string& location) {
  return OpenExistingStore(location);
}

int RunCollections(const AdminOptions& o) {
  auto db = OpenExisting(o.db);
  if (!db.ok()) return PrintError(db.status()), kExitFailure;
  nlohmann::json list = pipeline::DescribeCollections(**db);
  if (o.json) {
    std::cout << list.dump() << "\n";
    return kExitOk;
  }
  std::printf("%-20s %10s %10s %8s %-14s %s\n", "collection", "rows", "dimension", "vector",
              "index", "metric");
  for (const auto& c : list) {
    std::printf("%-20s %10lld %10d %8s %-14s %s\n", c["name"].get<std::string>().c_str(),
                c["rows"].get<long long>(), c["dimension"].get<int>(),
                c["vector"].get<std::string>().c_str(), c["index"].get<std::string>().c_str(),
                c["metric"].get<std::string>().c_str());
  }
  return kExitOk;
}

int RunStats(const AdminOptions& o) {
  auto db = OpenExisting(o.db);
  if (!db.ok()) return PrintError(db.status()), kExitFailure;
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& name : (*db)->ListCollections()) {
    auto collection = (*db)->GetCollection(name);
    if (!collection.ok()) continue;  // dropped meanwhile
    CollectionStats s = (*collection)->Stats();
    out[name] = {{"rows", s.row_count},
                 {"indexed_rows", s.indexed_rows},
                 {"pending_rows", s.pending_rows},
                 {"deleted_slots", s.deleted_slots},
                 {"last_sequence", s.last_sequence},
                 {"snapshot_sequence", s.snapshot_sequence},
                 {"index_memory_bytes", s.index_memory_bytes}};
  }
  std::cout << (o.json ? out.dump() : out.dump(2)) << "\n";
  return kExitOk;
}

// Ids named by id:N, or by the path they were indexed from.
Result<std::vector<int64_t>> ResolveTargets(const Library& library,
                                            const std::vector<std::string>& targets) {
  std::vector<int64_t> ids;
  for (const std::string& t : targets) {
    IMGSEARCH_ASSIGN_OR_RETURN(ImageQuery q, ImageQuery::Parse(t));
    if (q.id >= 0) {
      ids.push_back(q.id);
      continue;
    }
    nlohmann::json quoted = std::filesystem::absolute(t).lexically_normal().string();
    // A JSON string is a valid filter string literal.
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> found,
                               library.FindImages("path == " + quoted.dump()));
    ids.insert(ids.end(), found.begin(), found.end());
  }
  return ids;
}

int RunDelete(const AdminOptions& o) {
  if (o.targets.empty() && o.filter.empty()) {
    PrintError("delete needs images (paths or id:N) or --filter");
    return kExitUsage;
  }
  auto library = OpenLibrary(o.db, o.models, /*create=*/false, /*only_names=*/true, 0);
  if (!library.ok()) return PrintError(library.status()), kExitFailure;
  std::vector<int64_t> ids;
  if (!o.targets.empty()) {
    auto resolved = ResolveTargets(**library, o.targets);
    if (!resolved.ok()) return PrintError(resolved.status()), kExitFailure;
    ids = *resolved;
  }
  if (!o.filter.empty()) {
    auto found = (*library)->FindImages(o.filter);
    if (!found.ok()) return PrintError(found.status()), kExitFailure;
    ids.insert(ids.end(), found->begin(), found->end());
  }
  // The same ids in every model's collection, removed in one transaction.
  auto removed = (*library)->RemoveImages(ids);
  if (!removed.ok()) return PrintError(removed.status()), kExitFailure;
  int64_t deleted = *removed;
  auto mirrored = MirrorToRedis(o.redis_url, **library);
  if (!mirrored.ok()) return PrintError(mirrored.status()), kExitFailure;
  if (o.json) {
    std::cout << nlohmann::json{{"deleted", deleted}}.dump() << "\n";
  } else {
    std::printf("deleted %lld images from %zu models\n", static_cast<long long>(deleted),
                (*library)->ModelNames().size());
  }
  return kExitOk;
}

// NumPy .npy version 1.0: magic, header length, a Python dict literal, padding to 64.
std::string NpyHeader(const char* dtype, size_t rows, size_t cols) {
  std::string dict = std::string("{'descr': '") + dtype + "', 'fortran_order': False, 'shape': (" +
                     std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY\x01";
  header += '\0';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

int RunExport(const AdminOptions& o) {
  if (o.models.size() != 1) {
    PrintError("export needs exactly one --model (a collection)");
    return kExitUsage;
  }
  auto library = OpenLibrary(o.db, o.models, /*create=*/false, /*only_names=*/true, 0);
  if (!library.ok()) return PrintError(library.status()), kExitFailure;
  auto collection = ModelCollection(**library, 0);
  if (!collection.ok()) return PrintError(collection.status()), kExitFailure;
  const Collection& c = **collection;
  QueryRequest all;
  all.limit = std::numeric_limits<int64_t>::max();
  all.output_fields = {"*"};
  if (!o.filter.empty()) {  // on the images' fields
    auto found = (*library)->FindImages(o.filter);
    if (!found.ok()) return PrintError(found.status()), kExitFailure;
    if (found->empty()) found->push_back(-1);  // no image matches: no row either
    all.ids = std::move(found).value();
  }
  auto rows = c.Query(all);
  if (!rows.ok()) return PrintError(rows.status()), kExitFailure;
  std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
  if (!out) return PrintError(o.output + ": cannot write"), kExitFailure;
  const CollectionSchema& s = c.schema();
  if (o.format == "npy") {  // vectors only, in ascending id order; ids go to <output>.ids.txt
    size_t cols = s.binary() ? s.VectorBytes() : size_t(s.dimension);
    out << NpyHeader(s.binary() ? "|u1" : "<f4", rows->size(), cols);
    std::ofstream ids(o.output + ".ids.txt");
    for (const Row& r : *rows) {
      if (s.binary()) {
        out.write(reinterpret_cast<const char*>(r.binary_vector.data()),
                  std::streamsize(r.binary_vector.size()));
      } else {
        out.write(reinterpret_cast<const char*>(r.vector.data()),
                  std::streamsize(r.vector.size() * sizeof(float)));
      }
      ids << r.id << "\n";
    }
  } else {  // each image's fields, its id and its vector
    std::vector<int64_t> ids;
    for (const Row& r : *rows) ids.push_back(r.id);
    auto images = (*library)->GetImages(ids);
    if (!images.ok()) return PrintError(images.status()), kExitFailure;
    std::map<int64_t, const ImageInfo*> image_of;
    for (const ImageInfo& image : *images) image_of[image.id] = &image;
    for (const Row& r : *rows) {
      nlohmann::json line = nlohmann::json::object();
      if (auto it = image_of.find(r.id); it != image_of.end()) {
        const ImageInfo& image = *it->second;
        line = {{"path", image.path},    {"size", image.size},   {"mtime", image.mtime_ns},
                {"hash", image.hash},    {"width", image.width}, {"height", image.height},
                {"fields", image.fields}};
      }
      line[s.primary_field] = r.id;
      if (s.binary()) {
        line[s.vector_field] = r.binary_vector;
      } else {
        line[s.vector_field] = r.vector;
      }
      out << line.dump() << "\n";
    }
  }
  out.close();
  if (!out) return PrintError(o.output + ": write failed"), kExitFailure;
  if (!o.json)
    std::printf("exported %zu rows of %s to %s\n", rows->size(), s.name.c_str(), o.output.c_str());
  return kExitOk;
}

}  // namespace

void AddAdminCommands(CLI::App& app, int* exit_code) {
  auto collections = std::make_shared<AdminOptions>();
  CLI::App* cmd = app.add_subcommand("collections", "List the collections of a database");
  cmd->add_option("--db", collections->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_flag("--json", collections->json, "Print JSON");
  cmd->callback([collections, exit_code] { *exit_code = RunCollections(*collections); });

  auto stats = std::make_shared<AdminOptions>();
  cmd = app.add_subcommand("stats", "Rows, index state and memory per collection");
  cmd->add_option("--db", stats->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_flag("--json", stats->json, "Print compact JSON");
  cmd->callback([stats, exit_code] { *exit_code = RunStats(*stats); });

  auto remove = std::make_shared<AdminOptions>();
  cmd = app.add_subcommand("delete", "Remove images from every model's collection");
  cmd->add_option("images", remove->targets, "Indexed paths or id:N");
  cmd->add_option("--db", remove->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("--filter", remove->filter, "Remove every image matching this filter");
  cmd->add_option("--redis-url", remove->redis_url, "Update the Redis mirror too");
  cmd->add_flag("--json", remove->json, "Print JSON");
  cmd->callback([remove, exit_code] { *exit_code = RunDelete(*remove); });

  auto exporter = std::make_shared<AdminOptions>();
  cmd = app.add_subcommand("export",
                           "Write one model's rows as JSON Lines or its vectors as NumPy .npy");
  cmd->add_option("--db", exporter->db, "Library: a folder or milvus://HOST:PORT")->required();
  cmd->add_option("-m,--model", exporter->models, "The model (collection) to export")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", exporter->output, "Output file")->required();
  cmd->add_option("--format", exporter->format, "jsonl or npy")
      ->check(CLI::IsMember({"jsonl", "npy"}));
  cmd->add_option("--filter", exporter->filter, "Only rows matching this filter");
  cmd->add_flag("--json", exporter->json, "No summary line");
  cmd->callback([exporter, exit_code] { *exit_code = RunExport(*exporter); });
}

}  // namespace imgsearch::cli
