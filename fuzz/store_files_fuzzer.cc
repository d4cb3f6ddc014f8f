// The store's files on disk: index snapshots (DecodeSnapshot in store/snapshot.cc, then
// CollectionImpl::LoadSnapshotFile in store/collection_persist.cc) and the MANIFEST
// (ParseManifest in store/manifest.cc, then Database::Open). The first byte chooses: even,
// the rest is a snapshot file without its last 4 bytes, the CRC-32C, which the target
// appends (so the fuzzer gets past the checksum); odd, the rest is a MANIFEST. A database
// with four collections (FLAT, HNSW, IVF_FLAT, binary BIN_FLAT; 3 live rows and 1 deleted
// each) is made at start; a snapshot that names one of them, with its index spec and
// dimension (anything else is refused before the file is trusted), replaces that
// collection's snapshot, a MANIFEST replaces the MANIFEST, and the database is opened.
// Checks: decoding and re-encoding a snapshot gives its bytes back; a parsed MANIFEST
// prints and parses back to itself and names only files inside the index folder; the
// database always opens (a bad snapshot or MANIFEST is rebuilt from the rows), and then
// every collection holds exactly its 3 live rows, and a search and a query return only
// those rows' ids.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/crc32c.h"
#include "base/log.h"
#include "fuzz_check.h"
#include "imgsearch/database.h"
#include "store/snapshot.h"
#include "store/storage.h"

namespace {

using imgsearch::Database;
using imgsearch::DataType;
using imgsearch::IndexSpec;

const std::set<int64_t> kLiveIds = {1, 2, 3};

struct Golden {
  std::string dir;
  std::map<std::string, std::string> files;  // index/ file name -> bytes, MANIFEST included
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteAll(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good(), "cannot write a file of the scratch database");
}

void AddCollection(Database& db, const std::string& name, DataType type, int dim,
                   const IndexSpec& index) {
  imgsearch::CollectionSchema schema;
  schema.name = name;
  schema.auto_id = false;
  schema.vector_type = type;
  schema.dimension = dim;
  schema.scalar_fields = {{"tag", DataType::kVarChar, false, 64, /*indexed=*/true}};
  FUZZ_CHECK(db.CreateCollection(schema, index).ok(), "cannot create a collection");
  auto collection = *db.GetCollection(name);
  std::vector<imgsearch::Row> rows;
  for (int64_t id = 1; id <= 4; ++id) {
    imgsearch::Row row;
    row.id = id;
    if (type == DataType::kBinaryVector) {
      row.binary_vector = {static_cast<uint8_t>(id * 37), static_cast<uint8_t>(id * 11)};
    } else {
      for (int i = 0; i < dim; ++i) row.vector.push_back(float(id * (i + 1) % 5) + 0.5f);
    }
    row.fields = {{"tag", id % 2 ? "odd" : "even"}};
    rows.push_back(std::move(row));
  }
  FUZZ_CHECK(collection->Insert(std::move(rows)).ok(), "cannot insert rows");
  FUZZ_CHECK(collection->Delete({4}).ok(), "cannot delete a row");
  FUZZ_CHECK(collection->Flush().ok(), "cannot write a snapshot");
}

// With IMGSEARCH_FUZZ_SEED_DIR set, the golden files are also written there as inputs
// of this target (the seeds of fuzz/corpus/store_files).
void WriteSeeds(const Golden& golden) {
  const char* dir = std::getenv("IMGSEARCH_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  for (const auto& [name, bytes] : golden.files) {
    bool manifest = name == "MANIFEST";
    std::string input(1, manifest ? '\1' : '\0');
    input += manifest ? bytes : bytes.substr(0, bytes.size() - 4);
    WriteAll(std::string(dir) + "/" + name, input);
  }
}

const Golden& MakeGolden() {
  static const Golden golden = [] {
    imgsearch::base::SetLogLevel("off");  // every damaged file is logged as a warning
    Golden g;
    g.dir = imgsearch::fuzz::ScratchDir("db");
    {
      auto db = Database::Open(g.dir);
      FUZZ_CHECK(db.ok(), "cannot make the scratch database");
      AddCollection(**db, "flat", DataType::kFloatVector, 4, IndexSpec("FLAT", "L2"));
      AddCollection(**db, "hnsw", DataType::kFloatVector, 4,
                    IndexSpec("HNSW", "COSINE", {{"M", 4}, {"efConstruction", 16}}));
      AddCollection(**db, "ivf", DataType::kFloatVector, 4,
                    IndexSpec("IVF_FLAT", "L2", {{"nlist", 1}}));
      AddCollection(**db, "bits", DataType::kBinaryVector, 16, IndexSpec("BIN_FLAT", "HAMMING"));
    }
    auto names = imgsearch::base::Env::Default()->ListDir(g.dir + "/index");
    FUZZ_CHECK(names.ok(), "cannot list the index folder");
    for (const std::string& name : *names) {
      if (name != "LOCK") g.files[name] = ReadAll(g.dir + "/index/" + name);  // LOCK: empty
    }
    WriteSeeds(g);
    return g;
  }();
  return golden;
}

// The golden files, with `name` replaced by `bytes`.
void Restore(const Golden& golden, const std::string& name, std::string_view bytes) {
  for (const auto& [file, contents] : golden.files) {
    WriteAll(golden.dir + "/index/" + file, file == name ? bytes : std::string_view(contents));
  }
}

void CheckCollection(const Database& db, const std::string& name) {
  auto collection = db.GetCollection(name);
  FUZZ_CHECK(collection.ok(), "a collection is gone");
  const imgsearch::Collection& c = **collection;
  FUZZ_CHECK(c.Count() == int64_t(kLiveIds.size()), "a collection lost or gained rows");
  imgsearch::QueryRequest every;
  every.filter = "id >= 0";
  auto rows = c.Query(every);
  if (!rows.ok()) std::fprintf(stderr, "%s\n", rows.status().ToString().c_str());
  FUZZ_CHECK(rows.ok(), "a query fails");
  std::set<int64_t> ids;
  for (const auto& row : *rows) ids.insert(row.id);
  FUZZ_CHECK(ids == kLiveIds, "a query returns other rows than the live ones");
  imgsearch::SearchRequest request;
  if (c.schema().binary()) {
    request.binary_vectors = {{0x5a, 0xc3}};
  } else {
    request.vectors = {{1.0f, 2.0f, 0.5f, 1.5f}};
  }
  auto hits = c.Search(request);
  FUZZ_CHECK(hits.ok() && hits->size() == 1, "a search fails");
  std::set<int64_t> found;
  for (const auto& hit : (*hits)[0]) {
    FUZZ_CHECK(kLiveIds.count(hit.id) == 1, "a search returns a row that is not live");
    FUZZ_CHECK(found.insert(hit.id).second, "a search returns a row twice");
  }
}

void OpenAndCheck(const Golden& golden) {
  auto db = Database::Open(golden.dir);
  if (!db.ok()) std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
  FUZZ_CHECK(db.ok(), "the database does not open");
  for (const char* name : {"flat", "hnsw", "ivf", "bits"}) CheckCollection(**db, name);
}

// The golden snapshot file of the collection this snapshot is for, when its spec and
// dimension are that collection's.
std::string TargetOf(const Golden& golden, const imgsearch::store::SnapshotContents& c) {
  for (const auto& [name, bytes] : golden.files) {
    if (name == "MANIFEST") continue;
    auto original = imgsearch::store::DecodeSnapshot(bytes);
    FUZZ_CHECK(original.ok(), "a golden snapshot does not decode");
    if (original->collection_id == c.collection_id && original->index_spec == c.index_spec &&
        original->dimension == c.dimension)
      return name;
  }
  return "";
}

void FuzzSnapshot(const Golden& golden, std::string_view body) {
  const std::string as_read(body);
  (void)imgsearch::store::DecodeSnapshot(as_read);  // as read, CRC and all
  std::string bytes(body);
  uint32_t crc = imgsearch::base::Crc32c(bytes.data(), bytes.size());
  bytes.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  auto decoded = imgsearch::store::DecodeSnapshot(bytes);
  if (!decoded.ok()) return;
  decoded->index_bytes = std::string(decoded->index_view);
  // The body's CRC makes a version 1 file; encoding writes the current version, which
  // must decode to the same contents (and encode to the same bytes again).
  std::string encoded = imgsearch::store::EncodeSnapshot(*decoded);
  auto again = imgsearch::store::DecodeSnapshot(encoded);
  FUZZ_CHECK(again.ok() && again->slot_ids == decoded->slot_ids &&
                 again->index_view == decoded->index_view && again->sequence == decoded->sequence &&
                 again->index_spec == decoded->index_spec,
             "a decoded snapshot encodes to other contents");
  again->index_bytes = std::string(again->index_view);
  FUZZ_CHECK(imgsearch::store::EncodeSnapshot(*again) == encoded,
             "a decoded snapshot encodes to other bytes");
  std::string target = TargetOf(golden, *decoded);
  if (target.empty()) return;
  Restore(golden, target, bytes);
  OpenAndCheck(golden);
}

void FuzzManifest(const Golden& golden, std::string_view text) {
  auto entries = imgsearch::store::ParseManifest(text);
  if (entries.ok()) {
    for (const auto& [id, file] : *entries) {
      FUZZ_CHECK(file.find('/') == std::string::npos && file != "." && file != "..",
                 "a MANIFEST entry names a file outside the index folder");
    }
    auto again = imgsearch::store::ParseManifest(imgsearch::store::ManifestText(*entries));
    FUZZ_CHECK(again.ok() && *again == *entries, "a printed MANIFEST reads back different");
  }
  Restore(golden, "MANIFEST", text);
  OpenAndCheck(golden);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Golden& golden = MakeGolden();
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    FuzzSnapshot(golden, body);
  } else {
    FuzzManifest(golden, body);
  }
  return 0;
}
