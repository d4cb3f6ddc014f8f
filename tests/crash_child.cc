// The writer half of the crash test: opens the database in argv[1] and inserts, upserts
// and deletes rows forever (until killed), announcing each operation on stdout before it
// starts ("P <kind> id:version ...") and after it is acknowledged ("A").
#include <cstdio>
#include <map>
#include <random>
#include <string>

#include "crash_rows.h"
#include "imgsearch/database.h"

using namespace imgsearch;

namespace {

[[noreturn]] void Fail(const Status& s) {
  std::printf("E %s\n", s.ToString().c_str());
  std::fflush(stdout);
  std::exit(3);
}

Row MakeRow(int64_t id, int64_t version) {
  Row row;
  row.id = id;
  row.vector = testing::CrashVector(id, version);
  row.fields = testing::CrashFields(id, version);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  DatabaseOptions options;
  options.snapshot_every_changes = 25;  // snapshots are written often, so kills land in them
  auto db = Database::Open(argv[1], options);
  if (!db.ok()) Fail(db.status());
  if (!(*db)->HasCollection("crash")) {
    Status created = (*db)->CreateCollection(testing::CrashSchema(),
                                             {"HNSW", "L2", {{"M", 8}, {"efConstruction", 40}}});
    if (!created.ok()) Fail(created);
  }
  auto collection = (*db)->GetCollection("crash");
  if (!collection.ok()) Fail(collection.status());
  Collection& c = **collection;
  std::map<int64_t, int64_t> versions;  // live rows
  QueryRequest all;
  all.limit = 1 << 30;
  all.output_fields = {"version"};
  auto rows = c.Query(all);
  if (!rows.ok()) Fail(rows.status());
  int64_t next_id = 1;
  for (const Row& r : *rows)
    versions[r.id] = r.fields["version"].get<int64_t>(), next_id = std::max(next_id, r.id + 1);
  std::mt19937_64 rng(std::stoull(argv[2]));
  std::printf("R\n");
  std::fflush(stdout);
  for (;;) {
    int kind = static_cast<int>(rng() % 10);
    std::vector<Row> batch;
    std::string line;
    if (kind < 5 || versions.size() < 5) {  // insert new rows
      for (int i = 0, n = 1 + static_cast<int>(rng() % 5); i < n; ++i)
        batch.push_back(MakeRow(next_id++, 1));
      line = "P I";
    } else if (kind < 8) {  // upsert existing rows to a new version
      for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) {
        auto it = std::next(versions.begin(), static_cast<long>(rng() % versions.size()));
        bool taken = false;
        for (const Row& r : batch) taken = taken || r.id == it->first;
        if (!taken) batch.push_back(MakeRow(it->first, it->second + 1));
      }
      line = "P U";
    } else {  // delete existing rows
      for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) {
        auto it = std::next(versions.begin(), static_cast<long>(rng() % versions.size()));
        bool taken = false;
        for (const Row& r : batch) taken = taken || r.id == it->first;
        if (!taken) batch.push_back(MakeRow(it->first, 0));
      }
      line = "P D";
    }
    for (const Row& r : batch)
      line += " " + std::to_string(r.id) + ":" + r.fields["version"].dump();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (line[2] == 'D') {
      std::vector<int64_t> ids;
      for (const Row& r : batch) ids.push_back(r.id);
      auto deleted = c.Delete(ids);
      if (!deleted.ok()) Fail(deleted.status());
      for (int64_t id : ids) versions.erase(id);
    } else {
      std::vector<Row> copy = batch;
      auto written = line[2] == 'I' ? c.Insert(std::move(copy)) : c.Upsert(std::move(copy));
      if (!written.ok()) Fail(written.status());
      for (const Row& r : batch) versions[r.id] = r.fields["version"].get<int64_t>();
    }
    std::printf("A\n");
    std::fflush(stdout);
  }
}
