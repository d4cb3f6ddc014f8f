#include "pipeline/dba.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json.h"
#include "base/log.h"
#include "index/flat_index.h"
#include "pipeline/images.h"
#include "pipeline/rerank.h"
#include "store/vector_form.h"

namespace imgsearch::pipeline {
namespace {

constexpr const char* kNeighbours = "neighbours";  // ids, comma-separated, nearest first
constexpr const char* kKth = "kth";                // internal distance of the N-th neighbour
constexpr const char* kSource = "source";          // ContentHash of the original's bytes

// What a stored twin remembers of how it was made.
struct Twin {
  std::vector<int64_t> neighbours;
  float kth = 0;
  std::string source;
};

CollectionSchema TwinSchema(const CollectionSchema& model, const std::string& name) {
  CollectionSchema s;
  s.name = name;
  s.description = "database-side augmented vectors of model " + model.name;
  s.auto_id = false;
  s.dimension = model.dimension;
  s.scalar_fields = {
      {kNeighbours, DataType::kVarChar}, {kKth, DataType::kDouble}, {kSource, DataType::kVarChar}};
  return s;
}

std::string JoinIds(const std::vector<int64_t>& ids) {
  std::string text;
  for (int64_t id : ids) text += (text.empty() ? "" : ",") + std::to_string(id);
  return text;
}

std::vector<int64_t> SplitIds(const std::string& text) {
  std::vector<int64_t> ids;
  for (size_t start = 0; start < text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    ids.push_back(std::strtoll(text.substr(start, comma - start).c_str(), nullptr, 10));
    start = comma + 1;
  }
  return ids;
}

// One model's originals in memory: for exact neighbours and the reverse-neighbour test.
class Originals {
 public:
  Originals(index::Metric metric, size_t dim) : metric_(metric), flat_(metric, dim), dim_(dim) {}

  Status Load(const Collection& collection) {
    const CollectionSchema& schema = collection.schema();
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(collection, {schema.vector_field}));
    for (Row& row : rows) {
      std::string stored = store::StoredVector(schema, row);
      std::string indexed = store::IndexedForm(metric_, stored);
      IMGSEARCH_RETURN_IF_ERROR(flat_.Add(1, &row.id, indexed.data()));
      hashes_[row.id] = ContentHash(stored);
      indexed_[row.id] = std::move(indexed);
      raw_[row.id] = std::move(row.vector);
    }
    return Status::Ok();
  }

  const std::map<int64_t, std::string>& hashes() const { return hashes_; }

  // The N nearest other images, nearest first (ties: smaller id), as index::Neighbor.
  std::vector<index::Neighbor> Nearest(int64_t id, int n) const {
    std::vector<index::Neighbor> found = flat_.Scan(indexed_.at(id).data(), size_t(n) + 1, {}, {});
    std::erase_if(found, [id](const index::Neighbor& x) { return x.label == id; });
    if (found.size() > size_t(n)) found.resize(size_t(n));
    return found;
  }

  float DistanceBetween(int64_t a, int64_t b) const {
    return index::Distance(metric_, indexed_.at(a).data(), indexed_.at(b).data(), dim_);
  }

  // The twin of `id`: its vector, neighbours and the N-th's distance.
  Row MakeTwin(int64_t id, const Dba& dba) const {
    std::vector<index::Neighbor> nearest = Nearest(id, dba.n);
    std::vector<std::vector<float>> vectors;
    std::vector<int64_t> ids;
    for (const index::Neighbor& x : nearest) {
      vectors.push_back(raw_.at(x.label));
      ids.push_back(x.label);
    }
    Row row;
    row.id = id;
    row.vector = ExpandQuery(metric_, raw_.at(id), vectors, dba.alpha);
    // Fewer than N others: any newcomer is among the nearest.
    double kth = int(nearest.size()) < dba.n ? 3.0e38 : double(nearest.back().distance);
    row.fields = {{kNeighbours, JoinIds(ids)}, {kKth, kth}, {kSource, hashes_.at(id)}};
    return row;
  }

 private:
  index::Metric metric_;
  index::FlatIndex flat_;
  size_t dim_;
  std::map<int64_t, std::string> indexed_;
  std::map<int64_t, std::vector<float>> raw_;
  std::map<int64_t, std::string> hashes_;
};

// Would `newcomer` at `distance` rank among the twin's N nearest (as index::Neighbor orders)?
bool Displaces(const Twin& twin, int n, int64_t newcomer, float distance) {
  if (int(twin.neighbours.size()) < n) return true;
  index::Neighbor last{twin.neighbours.back(), twin.kth};
  return index::Neighbor{newcomer, distance} < last;
}

// The ids whose twin must be made again, given the stored twins and the originals.
std::set<int64_t> Stale(const std::map<int64_t, Twin>& twins, const Originals& originals,
                        const Dba& dba, std::set<int64_t>* gone) {
  std::set<int64_t> fresh;  // new or changed originals
  for (const auto& [id, hash] : originals.hashes()) {
    auto twin = twins.find(id);
    if (twin == twins.end() || twin->second.source != hash) fresh.insert(id);
  }
  for (const auto& [id, twin] : twins) {
    auto hash = originals.hashes().find(id);
    if (hash == originals.hashes().end() || hash->second != twin.source) gone->insert(id);
  }
  std::set<int64_t> stale = fresh;
  for (const auto& entry : twins) {
    const int64_t id = entry.first;  // lambdas below use them (no bindings there)
    const Twin& twin = entry.second;
    if (stale.count(id) || !originals.hashes().count(id)) continue;
    bool lost = std::any_of(twin.neighbours.begin(), twin.neighbours.end(),
                            [&](int64_t n) { return gone->count(n) > 0; });
    bool displaced = !lost && std::any_of(fresh.begin(), fresh.end(), [&](int64_t y) {
      return Displaces(twin, dba.n, y, originals.DistanceBetween(id, y));
    });
    if (lost || displaced) stale.insert(id);
  }
  return stale;
}

Result<std::map<int64_t, Twin>> ReadTwins(const Collection& twins) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(twins, {kNeighbours, kKth, kSource}));
  std::map<int64_t, Twin> out;
  for (const Row& row : rows) {
    Twin twin;
    twin.neighbours = SplitIds(row.fields.value(kNeighbours, std::string()));
    twin.kth = static_cast<float>(row.fields.value(kKth, 0.0));
    twin.source = row.fields.value(kSource, std::string());
    out[row.id] = std::move(twin);
  }
  return out;
}

// One model's twins to write: what a sync removes and (re)makes.
struct ModelSync {
  std::string collection;
  std::vector<int64_t> removed;
  std::vector<Row> rows;
};

// Computes one model's sync against `twins` (nullptr: none stored, every twin is made).
Result<ModelSync> PlanModelSync(const BoundModel& model, const Collection* twins, const Dba& dba) {
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric,
                             index::ParseMetric(model.collection->index().metric_type));
  Originals originals(metric, size_t(model.collection->schema().dimension));
  IMGSEARCH_RETURN_IF_ERROR(originals.Load(*model.collection));
  std::map<int64_t, Twin> stored;
  if (twins != nullptr) {
    IMGSEARCH_ASSIGN_OR_RETURN(stored, ReadTwins(*twins));
  }
  std::set<int64_t> gone;
  std::set<int64_t> stale = Stale(stored, originals, dba, &gone);
  ModelSync sync;
  for (int64_t id : gone)
    if (!originals.hashes().count(id)) sync.removed.push_back(id);
  for (int64_t id : stale) sync.rows.push_back(originals.MakeTwin(id, dba));
  return sync;
}

bool IsTwinOf(const std::string& collection, const std::string& model) {
  const std::string base = DbaCollectionName(model);
  if (collection == base) return true;
  if (collection.rfind(base + "_", 0) != 0 || collection.size() == base.size() + 1) return false;
  return std::all_of(collection.begin() + long(base.size() + 1), collection.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// The incremental sync of the twins `state` names: computed, then written in one
// transaction (a search elsewhere sees all of it or none).
Result<DbaReport> SyncIncrementally(Database& db, std::vector<BoundModel>& models,
                                    const DbaState& state) {
  DbaReport report;
  std::vector<ModelSync> syncs;
  for (BoundModel& model : models) {
    if (model.collection->schema().binary()) continue;
    const std::string name = DbaCollectionName(model.source.name, state.generation);
    IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> twins, db.GetCollection(name));
    IMGSEARCH_ASSIGN_OR_RETURN(ModelSync sync, PlanModelSync(model, twins.get(), state.dba));
    sync.collection = name;
    report.remade += sync.rows.size();
    report.removed += sync.removed.size();
    syncs.push_back(std::move(sync));
    model.augmented = twins;
  }
  IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) {
    for (ModelSync& sync : syncs) {
      if (!sync.removed.empty())
        IMGSEARCH_RETURN_IF_ERROR(txn.Delete(sync.collection, sync.removed).status());
      if (!sync.rows.empty())
        IMGSEARCH_RETURN_IF_ERROR(txn.Upsert(sync.collection, sync.rows).status());
    }
    return Status::Ok();
  }));
  for (BoundModel& model : models)
    if (model.augmented) report.twins += size_t(model.augmented->Count());
  return report;
}

}  // namespace

std::string Dba::ToString() const {
  if (!on()) return "off";
  return Rerank{n, alpha}.ToString().substr(3);  // "N,alpha=A"
}

Result<Dba> ParseDba(const std::string& text) {
  if (text == "off" || text == "0") return Dba{};
  Result<Rerank> as_qe = ParseRerank("qe:" + text);
  if (!as_qe.ok()) {
    return Status::InvalidArgument("dba \"" + text + "\": expected off, N or N,alpha=A (N 1 to " +
                                   std::to_string(kMaxQe) + ", A 0 to 20)");
  }
  return Dba{as_qe->qe, as_qe->alpha};
}

std::string DbaCollectionName(const std::string& model, int64_t generation) {
  return model + "__dba" + (generation > 0 ? "_" + std::to_string(generation) : "");
}

std::string DbaSetting(const Dba& dba, int64_t generation) {
  return nlohmann::json{{"n", dba.n}, {"alpha", dba.alpha}, {"generation", generation}}.dump();
}

Result<DbaState> StoredDbaState(const Database& db) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, db.GetSetting(kDbaSetting));
  if (!text) return DbaState{};
  Result<nlohmann::json> parsed = base::ParseJson(*text);
  DbaState state;
  bool good = parsed.ok() && parsed->is_object() && (*parsed)["n"].is_number_integer() &&
              (*parsed)["alpha"].is_number();
  if (good) {
    state.dba.n = (*parsed)["n"].get<int>();
    state.dba.alpha = (*parsed)["alpha"].get<double>();
    good =
        state.dba.n >= 0 && state.dba.n <= kMaxQe && state.dba.alpha >= 0 && state.dba.alpha <= 20;
    if (parsed->contains("generation")) {  // absent: written before generations (0)
      good = good && (*parsed)["generation"].is_number_integer();
      if (good) state.generation = (*parsed)["generation"].get<int64_t>();
      good = good && state.generation >= 0;
    }
  }
  if (!good) return Status::Corruption("the library's dba setting is unreadable: run tune --dba");
  return state;
}

Result<Dba> StoredDba(const Database& db) {
  IMGSEARCH_ASSIGN_OR_RETURN(DbaState state, StoredDbaState(db));
  return state.dba;
}

Result<DbaReport> BuildDba(Database& db, std::vector<BoundModel>& models, const Dba& dba,
                           int64_t generation) {
  auto started = std::chrono::steady_clock::now();
  DbaReport report;
  for (BoundModel& model : models) {
    model.augmented.reset();
    if (!dba.on() || model.collection->schema().binary()) continue;
    const std::string name = DbaCollectionName(model.source.name, generation);
    if (db.HasCollection(name)) IMGSEARCH_RETURN_IF_ERROR(db.DropCollection(name));
    // The originals' index (HNSW, IVF, FLAT: as they are searched), so that searching the
    // twins costs what searching the originals does.
    IMGSEARCH_RETURN_IF_ERROR(db.CreateCollection(TwinSchema(model.collection->schema(), name),
                                                  model.collection->index()));
    IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> twins, db.GetCollection(name));
    IMGSEARCH_ASSIGN_OR_RETURN(ModelSync sync, PlanModelSync(model, nullptr, dba));
    report.remade += sync.rows.size();
    for (size_t first = 0; first < sync.rows.size(); first += 512) {
      std::vector<Row> batch(
          std::make_move_iterator(sync.rows.begin() + long(first)),
          std::make_move_iterator(sync.rows.begin() +
                                  long(std::min(sync.rows.size(), first + 512))));
      IMGSEARCH_RETURN_IF_ERROR(twins->Upsert(std::move(batch)).status());
    }
    report.twins += size_t(twins->Count());
    model.augmented = twins;
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

Status DropOtherDba(Database& db, const std::vector<BoundModel>& models, int64_t keep) {
  for (const std::string& name : db.ListCollections()) {
    for (const BoundModel& model : models) {
      if (!IsTwinOf(name, model.source.name) ||
          (keep >= 0 && name == DbaCollectionName(model.source.name, keep)))
        continue;
      Status dropped = db.DropCollection(name);
      if (!dropped.ok() && dropped.code() != StatusCode::kNotFound) return dropped;
    }
  }
  return Status::Ok();
}

Result<DbaReport> SyncDba(Database& db, std::vector<BoundModel>& models, const Dba& dba,
                          bool full) {
  auto started = std::chrono::steady_clock::now();
  if (!dba.on()) return DbaReport{};
  DbaReport report;
  // Another process may switch generations under an incremental sync (its transaction then
  // fails on the dropped collections): the sync is tried again on the new one.
  for (int attempt = 0;; ++attempt) {
    IMGSEARCH_ASSIGN_OR_RETURN(DbaState stored, StoredDbaState(db));
    bool same = stored.dba.on() && stored.dba.n == dba.n && stored.dba.alpha == dba.alpha;
    for (const BoundModel& model : models) {  // a model without twins yet: a full build
      same = same && (model.collection->schema().binary() ||
                      db.HasCollection(DbaCollectionName(model.source.name, stored.generation)));
    }
    if (!same || full) break;
    Result<DbaReport> synced = SyncIncrementally(db, models, stored);
    if (synced.ok()) {
      report = *synced;
      report.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return report;
    }
    IMGSEARCH_ASSIGN_OR_RETURN(DbaState now, StoredDbaState(db));
    if (now == stored || attempt == 2) return synced.status();
  }
  {
    IMGSEARCH_ASSIGN_OR_RETURN(DbaState stored, StoredDbaState(db));
    const DbaState next{dba, stored.generation + 1};
    IMGSEARCH_ASSIGN_OR_RETURN(report, BuildDba(db, models, dba, next.generation));
    IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) {
      return txn.PutSetting(kDbaSetting, DbaSetting(dba, next.generation));
    }));
    IMGSEARCH_RETURN_IF_ERROR(DropOtherDba(db, models, next.generation));
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

Status DropDba(Database& db, std::vector<BoundModel>& models) {
  // The generation is kept, so that a later build never reuses the name of a set that a
  // search elsewhere may still be reading.
  Result<DbaState> stored = StoredDbaState(db);
  const int64_t generation = stored.ok() ? stored->generation : 0;
  IMGSEARCH_RETURN_IF_ERROR(db.Transact(
      [&](Transaction& txn) { return txn.PutSetting(kDbaSetting, DbaSetting({}, generation)); }));
  for (BoundModel& model : models) model.augmented.reset();
  return DropOtherDba(db, models, -1);
}

bool AttachDbaState(const Database& db, std::vector<BoundModel>& models, const DbaState& state) {
  bool whole = true;
  for (BoundModel& model : models) {
    model.augmented.reset();
    if (!state.dba.on() || model.collection->schema().binary()) continue;
    Result<std::shared_ptr<Collection>> twins =
        db.GetCollection(DbaCollectionName(model.source.name, state.generation));
    if (twins.ok()) model.augmented = *twins;
    whole = whole && twins.ok();
  }
  return whole;
}

Status AttachDba(Database& db, std::vector<BoundModel>& models) {
  IMGSEARCH_ASSIGN_OR_RETURN(DbaState state, StoredDbaState(db));
  if (!AttachDbaState(db, models, state)) WarnTwinsGone(state);
  return Status::Ok();
}

void WarnTwinsGone(const DbaState& state) {
  IMGSEARCH_LOG_WARN(
      "the augmented vectors of generation {} are gone (rebuilt or dropped by another process "
      "meanwhile): the models without them search their plain vectors",
      state.generation);
}

}  // namespace imgsearch::pipeline
