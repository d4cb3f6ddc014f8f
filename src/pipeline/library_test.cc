// The image library through its public API: one images collection holding each image's
// fields (the user's too), every model's vectors keyed by the image's id.
#include "imgsearch/library.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "pipeline/open_library.h"
#include "store/testing/fault_env.h"
#include "test_util.h"
#include "tiny_images.h"

namespace imgsearch {
namespace {

using json = nlohmann::json;
using testing::MakeTempDir;
using testing::MakeTinyImages;
using testing::ValueOrDie;

std::set<int64_t> IdsOf(const Collection& collection) {
  QueryRequest all;
  all.limit = 1 << 30;
  std::set<int64_t> ids;
  for (const Row& row : ValueOrDie(collection.Query(all))) ids.insert(row.id);
  return ids;
}

// Every model's collection holds exactly the images' ids.
void ExpectModelsMatchImages(Library& library) {
  Database& db = library.database();
  std::set<int64_t> images = IdsOf(*ValueOrDie(db.GetCollection(kImagesCollectionName)));
  for (const std::string& model : library.ModelNames()) {
    const auto collection = ValueOrDie(db.GetCollection(model));
    EXPECT_TRUE(collection->schema().scalar_fields.empty()) << model << " copies image fields";
    EXPECT_EQ(IdsOf(*collection), images) << model;
  }
}

TEST(LibraryTest, UserFieldsAreStoredFilteredAndKeptWhenAFileChanges) {
  std::vector<std::string> photos = MakeTinyImages(6, 3);
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  AddedImage cat = ValueOrDie(library->AddImageFile(photos[0], {{"label", "cat"}, {"n", 1}}));
  EXPECT_TRUE(cat.created);
  IndexOptions index;
  index.paths = {std::filesystem::path(photos[0]).parent_path().string()};
  IndexReport report = ValueOrDie(library->Index(index));
  EXPECT_EQ(report.added, 5u);
  EXPECT_EQ(report.unchanged, 1u);
  ExpectModelsMatchImages(*library);

  EXPECT_EQ(ValueOrDie(library->FindImages(R"(fields["label"] == "cat")")),
            std::vector<int64_t>{cat.id});
  ImageQuery query;
  query.path = photos[1];
  SearchOptions options;
  options.k = 5;
  options.filter = R"(fields["label"] == "cat")";
  SearchResults results = ValueOrDie(library->Search(query, options));
  for (const ModelResults& model : results.models) {
    ASSERT_EQ(model.hits.size(), 1u) << model.model;
    EXPECT_EQ(model.hits[0].id, cat.id);
    EXPECT_EQ(model.hits[0].row.fields["path"], cat.path);
  }

  // The file changes: new vectors and size under the same id, the user's fields stay.
  std::filesystem::copy_file(photos[1], photos[0],
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(photos[2], index.paths[0] + "/copy.jpg");
  report = ValueOrDie(library->Index(index));
  EXPECT_EQ(report.updated, 1u);
  EXPECT_EQ(report.added, 1u);
  EXPECT_EQ(report.duplicates, 1u);  // the copy; photos[0] now has photos[1]'s bytes but came first
  std::vector<ImageInfo> got = ValueOrDie(library->GetImages({cat.id, 999}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].fields, (json{{"label", "cat"}, {"n", 1}}));
  EXPECT_EQ(got[0].size, static_cast<int64_t>(std::filesystem::file_size(photos[1])));

  ASSERT_TRUE(library->SetFields(cat.id, {{"label", "dog"}}).ok());
  EXPECT_TRUE(ValueOrDie(library->FindImages(R"(fields["label"] == "cat")")).empty());
  EXPECT_EQ(library->SetFields(cat.id, json::array()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(library->SetFields(12345, json::object()).code(), StatusCode::kNotFound);
  EXPECT_EQ(library->AddImageFile(photos[2], "label").status().code(),
            StatusCode::kInvalidArgument);

  // Removal takes the image out of every collection at once.
  EXPECT_EQ(ValueOrDie(library->RemoveImages({cat.id, 999})), 1);
  ExpectModelsMatchImages(*library);
  EXPECT_EQ(library->PathOf(cat.id).status().code(), StatusCode::kNotFound);
}

// Renamed and moved files keep their image: its id, vectors and user fields, with no
// inference; a copy whose original is still there is a new image; a folder link that
// loops back is not followed.
TEST(LibraryTest, ARenamedOrMovedFileKeepsItsImageAndFields) {
  std::vector<std::string> photos = MakeTinyImages(6, 4);
  namespace fs = std::filesystem;
  const std::string dir = fs::path(photos[0]).parent_path().string();
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  IndexOptions index;
  index.paths = {dir};
  index.prune = true;
  ASSERT_EQ(ValueOrDie(library->Index(index)).added, 6u);
  auto id_of = [&](const std::string& path) {
    std::vector<int64_t> ids = ValueOrDie(library->FindImages("path == \"" + path + "\""));
    return ids.size() == 1 ? ids[0] : -1;
  };
  const int64_t renamed = id_of(photos[0]), moved = id_of(photos[1]);
  ASSERT_TRUE(library->SetFields(renamed, {{"label", "cat"}}).ok());
  ASSERT_TRUE(library->SetFields(moved, {{"label", "dog"}}).ok());
  auto vector_of = [&](int64_t id) {  // every model's vector, as bytes
    std::string bytes;
    for (const std::string& name : library->ModelNames()) {
      const auto model = ValueOrDie(library->database().GetCollection(name));
      for (const Row& row : ValueOrDie(model->Get({id}, {model->schema().vector_field}))) {
        bytes.append(reinterpret_cast<const char*>(row.vector.data()),
                     row.vector.size() * sizeof(float));
        bytes.append(row.binary_vector.begin(), row.binary_vector.end());
      }
    }
    return bytes;
  };
  const std::string before = vector_of(moved);
  ASSERT_FALSE(before.empty());

  fs::rename(photos[0], dir + "/renamed.jpg");
  fs::create_directories(dir + "/album");
  fs::rename(photos[1], dir + "/album/moved.jpg");
  fs::copy_file(photos[2], dir + "/album/copy.jpg");  // the original stays
  fs::remove(photos[3]);
  fs::create_directory_symlink(dir, dir + "/album/loop");
  IndexReport report = ValueOrDie(library->Index(index));
  EXPECT_EQ(report.moved, 2u);
  EXPECT_EQ(report.added, 1u);
  EXPECT_EQ(report.pruned, 1u);
  EXPECT_EQ(report.unchanged, 3u);
  EXPECT_EQ(report.scanned, 6u) << "the loop was followed";
  EXPECT_TRUE(report.failures.empty());
  EXPECT_EQ(id_of(dir + "/renamed.jpg"), renamed);
  EXPECT_EQ(id_of(dir + "/album/moved.jpg"), moved);
  std::vector<ImageInfo> got = ValueOrDie(library->GetImages({renamed, moved}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].fields, (json{{"label", "cat"}}));
  EXPECT_EQ(got[1].fields, (json{{"label", "dog"}}));
  EXPECT_EQ(got[1].path, dir + "/album/moved.jpg");
  EXPECT_EQ(vector_of(moved), before);
  ExpectModelsMatchImages(*library);

  // Without prune too: the old path is gone, so the image follows its file.
  fs::rename(dir + "/renamed.jpg", dir + "/renamed-again.jpg");
  index.prune = false;
  report = ValueOrDie(library->Index(index));
  EXPECT_EQ(report.moved, 1u);
  EXPECT_EQ(report.added, 0u);
  EXPECT_EQ(id_of(dir + "/renamed-again.jpg"), renamed);
  EXPECT_EQ(id_of(dir + "/renamed.jpg"), -1);
}

TEST(LibraryTest, UploadsAreOneImagePerContentAndCarryFields) {
  std::vector<std::string> photos = MakeTinyImages(2, 4);
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  std::string bytes = testing::ReadFileBytes(photos[0]);
  AddedImage first = ValueOrDie(library->AddImage(bytes, {{"source", "upload"}}));
  AddedImage again = ValueOrDie(library->AddImage(bytes));
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(first.id, again.id);
  EXPECT_EQ(ValueOrDie(library->GetImages({first.id}))[0].fields, (json{{"source", "upload"}}));
  EXPECT_FALSE(library->AddImage("not an image").ok());
  ExpectModelsMatchImages(*library);
}

// A library written before the images collection existed is refused, untouched.
TEST(LibraryTest, ALibraryOfTheOldLayoutIsRefusedAndLeftAlone) {
  std::string dir = MakeTempDir() + "/old";
  {
    auto db = ValueOrDie(Database::Open(dir));
    CollectionSchema old;
    old.name = "phash";
    old.auto_id = false;
    old.vector_type = DataType::kBinaryVector;
    old.dimension = 64;
    old.scalar_fields = {{"path", DataType::kVarChar}};
    ASSERT_TRUE(db->CreateCollection(old, {"BIN_FLAT", "HAMMING"}).ok());
  }
  LibraryOptions options;
  options.models = {"phash"};
  auto opened = Library::Open(dir, options);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("earlier imgsearch"), std::string::npos)
      << opened.status().ToString();
  auto db = ValueOrDie(Database::Open(dir));
  EXPECT_EQ(db->ListCollections(), std::vector<std::string>{"phash"});
}

TEST(LibraryTest, AModelCannotTakeTheImagesCollectionsName) {
  LibraryOptions options;
  options.models = {"images=phash"};
  auto opened = Library::Open(MakeTempDir() + "/lib", options);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("list of images"), std::string::npos);
}

// An upload is the uploaded file, a row in images and a vector in every model. With each
// of its I/O calls failing in turn (then a crash simulated): an upload acknowledged
// before is intact, the failed one is there entirely or not at all, and uploading it
// again once the disk is well works.
TEST(LibraryTest, AnUploadFailingAtAnyIoCallLosesNothingAcknowledged) {
  std::vector<std::string> photos = MakeTinyImages(2, 5);
  const std::string kept = testing::ReadFileBytes(photos[0]);
  const std::string failing = testing::ReadFileBytes(photos[1]);
  for (bool disk_full : {false, true}) {
    int64_t nth = 1;
    for (;; ++nth) {
      SCOPED_TRACE((disk_full ? "a full disk from I/O call " : "EIO at I/O call ") +
                   std::to_string(nth));
      std::string dir = MakeTempDir() + "/lib";
      store::testing::FaultInjectionEnv env(base::Env::Default());
      AddedImage acknowledged;
      Result<AddedImage> added = Status::Internal("not run");
      {
        auto library = ValueOrDie(pipeline::OpenLibrary(dir, {}, &env));
        acknowledged = ValueOrDie(library->AddImage(kept));
        env.plan().FailAt(nth, disk_full ? ENOSPC : EIO, disk_full);
        added = library->AddImage(failing, {{"n", nth}});
      }
      bool fired = env.plan().fired();
      env.plan().Disarm();
      ASSERT_TRUE(env.DropUnsyncedData().ok());
      if (!added.ok() && disk_full) {
        EXPECT_EQ(added.status().code(), StatusCode::kNoSpace) << added.status().ToString();
      }
      auto library = ValueOrDie(Library::Open(dir));
      EXPECT_EQ(testing::ReadFileBytes(acknowledged.path), kept);
      EXPECT_EQ(ValueOrDie(library->GetImages({acknowledged.id})).size(), 1u);
      std::set<int64_t> images = IdsOf(*ValueOrDie(library->database().GetCollection("images")));
      EXPECT_EQ(images.size(), added.ok() ? 2u : images.size());
      if (added.ok()) {
        EXPECT_EQ(testing::ReadFileBytes(added->path), failing);
      }
      ExpectModelsMatchImages(*library);  // all or nothing in every model
      AddedImage again = ValueOrDie(library->AddImage(failing));
      EXPECT_EQ(ValueOrDie(library->GetImages({again.id})).size(), 1u);
      if (!fired || ::testing::Test::HasFailure()) break;
    }
    std::printf("upload, %s: %lld I/O calls failed in turn\n", disk_full ? "full disk" : "EIO",
                static_cast<long long>(nth - 1));
    EXPECT_GE(nth, 8) << "an upload made too few I/O calls to walk";
  }
}

// Tune stores the re-ranking it chose beside the weights (or none), and fuse "auto" uses
// the stored one unless the search asks for another or "off".
TEST(LibraryTest, TheTunedRerankingIsStoredAndUsedByAuto) {
  const std::string dir = MakeTempDir() + "/classes";
  for (int c = 0; c < 4; ++c) {
    const std::string folder = dir + "/class" + std::to_string(c);
    std::filesystem::create_directories(folder);
    std::vector<std::string> photos = MakeTinyImages(4, 40 + c);
    for (const std::string& photo : photos)
      std::filesystem::copy_file(photo,
                                 folder + "/" + std::filesystem::path(photo).filename().string());
  }
  auto library = ValueOrDie(Library::Open(MakeTempDir() + "/lib"));
  IndexOptions index;
  index.paths = {dir};
  ASSERT_EQ(ValueOrDie(library->Index(index)).added, 16u);
  TuneOptions tune;
  tune.dir = dir;
  tune.k = 3;
  tune.folds = 2;
  TuneReport report = ValueOrDie(library->Tune(tune));
  EXPECT_FALSE(report.rerank_tried.empty());
  std::optional<std::string> text = ValueOrDie(library->database().GetSetting("fusion"));
  ASSERT_TRUE(text.has_value());
  json setting = json::parse(*text);
  if (report.rerank == "off") {
    EXPECT_LE(report.held_out_rerank_map, report.held_out_map);
    EXPECT_FALSE(setting.contains("rerank"));
  } else {
    EXPECT_GT(report.held_out_rerank_map, report.held_out_map);
    EXPECT_EQ(setting["rerank"], report.rerank);
  }
  ImageQuery query;
  query.id = 1;
  SearchOptions options;
  options.k = 5;
  options.fuse = "auto";
  setting.erase("rerank");
  ASSERT_TRUE(
      library->database()
          .Transact([&](Transaction& txn) { return txn.PutSetting("fusion", setting.dump()); })
          .ok());
  SearchResults plain = ValueOrDie(library->Search(query, options));
  EXPECT_EQ(plain.fusion, "tuned");
  EXPECT_TRUE(plain.rerank.empty());
  setting["rerank"] = "qe:2,alpha=0";
  ASSERT_TRUE(
      library->database()
          .Transact([&](Transaction& txn) { return txn.PutSetting("fusion", setting.dump()); })
          .ok());
  EXPECT_EQ(ValueOrDie(library->Search(query, options)).rerank, "qe:2,alpha=0");
  options.rerank = "qe:3,alpha=1";
  EXPECT_EQ(ValueOrDie(library->Search(query, options)).rerank, "qe:3,alpha=1");
  options.rerank = "off";
  SearchResults off = ValueOrDie(library->Search(query, options));
  EXPECT_EQ(off.ToJson("q"), plain.ToJson("q"));
  options.fuse = "rrf";  // only the tuned fusion brings the stored re-ranking
  options.rerank.clear();
  EXPECT_TRUE(ValueOrDie(library->Search(query, options)).rerank.empty());
  setting["rerank"] = "qe:0";
  ASSERT_TRUE(
      library->database()
          .Transact([&](Transaction& txn) { return txn.PutSetting("fusion", setting.dump()); })
          .ok());
  options.fuse = "auto";
  EXPECT_EQ(library->Search(query, options).status().code(), StatusCode::kCorruption);
}

// Four folders of four tiny pictures each, indexed into a new library (the built-in
// models: phash, and color_layout, whose float vectors get twins).
std::string LabelledLibrary(std::unique_ptr<Library>* library) {
  const std::string dir = MakeTempDir() + "/classes";
  for (int c = 0; c < 4; ++c) {
    const std::string folder = dir + "/class" + std::to_string(c);
    std::filesystem::create_directories(folder);
    for (const std::string& photo : MakeTinyImages(4, 40 + c))
      std::filesystem::copy_file(photo,
                                 folder + "/" + std::filesystem::path(photo).filename().string());
  }
  const std::string location = MakeTempDir() + "/lib";
  *library = ValueOrDie(Library::Open(location));
  IndexOptions index;
  index.paths = {dir};
  EXPECT_EQ(ValueOrDie((*library)->Index(index)).added, 16u);
  return dir;
}

// The twin collections in the library (any generation).
std::vector<std::string> TwinCollections(Library& library) {
  std::vector<std::string> twins;
  for (const std::string& name : library.database().ListCollections())
    if (name.find("__dba") != std::string::npos) twins.push_back(name);
  return twins;
}

// Tune over the labelled library in few folds, without query expansion.
TuneOptions SmallTune(const std::string& dir) {
  TuneOptions tune;
  tune.dir = dir;
  tune.k = 3;
  tune.folds = 2;
  tune.rerank = false;
  return tune;
}

TEST(LibraryTest, TuneTriesAugmentationAndKeepsItOnlyWhenHeldOutFoldsImprove) {
  std::unique_ptr<Library> library;
  const std::string dir = LabelledLibrary(&library);
  TuneOptions tune = SmallTune(dir);
  TuneReport report = ValueOrDie(library->Tune(tune));  // auto: the two settings tried
  EXPECT_NE(report.dba_tried.find("5,alpha=3: "), std::string::npos) << report.dba_tried;
  EXPECT_NE(report.dba_tried.find("10,alpha=3: "), std::string::npos) << report.dba_tried;
  json setting = json::parse(*ValueOrDie(library->database().GetSetting("dba")));
  if (report.dba == "off") {
    EXPECT_EQ(setting["n"], 0);
    EXPECT_TRUE(TwinCollections(*library).empty());
  } else {
    EXPECT_GT(report.held_out_dba_map, report.held_out_without_dba_map);
    EXPECT_EQ(report.held_out_dba_map, report.held_out_map);  // the report of the tune kept
    EXPECT_EQ(setting["n"], report.dba == "5,alpha=3" ? 5 : 10);
    EXPECT_EQ(TwinCollections(*library),
              std::vector<std::string>{"color_layout__dba_" + setting["generation"].dump()});
  }
  // Forced: kept whatever it scores; off: dropped; either way one generation at most.
  tune.dba = "force:3";
  report = ValueOrDie(library->Tune(tune));
  EXPECT_EQ(report.dba, "3,alpha=3");
  setting = json::parse(*ValueOrDie(library->database().GetSetting("dba")));
  EXPECT_EQ(setting["n"], 3);
  EXPECT_EQ(TwinCollections(*library),
            std::vector<std::string>{"color_layout__dba_" + setting["generation"].dump()});
  const int64_t generation = setting["generation"];
  tune.dba = "off";
  report = ValueOrDie(library->Tune(tune));
  EXPECT_EQ(report.dba, "off");
  EXPECT_TRUE(report.dba_tried.empty());
  EXPECT_TRUE(TwinCollections(*library).empty());
  setting = json::parse(*ValueOrDie(library->database().GetSetting("dba")));
  EXPECT_EQ(setting["n"], 0);
  EXPECT_GE(setting["generation"].get<int64_t>(), generation) << "generations are never reused";
  tune.dba = "force:off";
  EXPECT_EQ(library->Tune(tune).status().code(), StatusCode::kInvalidArgument);
}

// color_layout's hits for image 1, as a search of `library` gives them.
ImageQuery QueryOfImage1() {
  ImageQuery query;
  query.id = 1;
  return query;
}

SearchOptions ColorLayoutTop6() {
  SearchOptions options;
  options.k = 6;
  options.only = {"color_layout"};
  return options;
}

json HitsJson(const SearchResults& results) {
  json hits = json::array();
  for (const ModelResults& model : results.models)
    for (const Hit& hit : model.hits) hits.push_back({model.model, hit.id, hit.distance});
  return hits;
}

json ColorLayoutHits(Library& library) {
  return HitsJson(ValueOrDie(library.Search(QueryOfImage1(), ColorLayoutTop6())));
}

TEST(LibraryTest, ASearchRacingATuneThatRebuildsTheTwinsSeesOldOrNewWholeTwins) {
  std::unique_ptr<Library> writer;
  const std::string dir = LabelledLibrary(&writer);
  TuneOptions tune = SmallTune(dir);
  // What search answers under each state of the twins.
  std::vector<std::string> states = {"force:2,alpha=0", "force:4,alpha=3", "off"};
  std::vector<json> answers;
  for (const std::string& dba : states) {
    tune.dba = dba;
    ASSERT_TRUE(writer->Tune(tune).ok());
    answers.push_back(ColorLayoutHits(*writer));
  }
  ASSERT_NE(answers[0], answers[2]) << "the twins should change the answer";
  ASSERT_NE(answers[0], answers[1]);
  // Another handle on the library (as another process would open it), opened while the
  // twins are off, and the writer's own handle, searched from other threads meanwhile.
  auto reader = ValueOrDie(Library::Open(writer->location()));
  std::atomic<bool> done = false, switched = false;
  std::atomic<int> searches = 0, mixed = 0, plain = 0;
  auto search = [&](Library* library) {
    while (!done) {
      const bool twins_on = switched;  // the twins are on from the first tune below
      Result<SearchResults> results = library->Search(QueryOfImage1(), ColorLayoutTop6());
      ++searches;
      if (!results.ok()) {
        ++mixed;
        continue;
      }
      json hits = HitsJson(*results);
      if (std::find(answers.begin(), answers.end(), hits) == answers.end()) ++mixed;
      // The plain vectors' answer once the twins are on: twins that a tune dropped under
      // the search were not replaced by the ones it switched to.
      if (twins_on && hits == answers[2]) ++plain;
    }
  };
  std::thread other(search, reader.get()), same(search, writer.get());
  // Every tune runs, and the threads end, before anything is asserted.
  std::vector<Status> tuned;
  for (int round = 0; round < 6; ++round) {
    tune.dba = states[size_t(round % 2)];
    tuned.push_back(writer->Tune(tune).status());
    switched = true;
  }
  done = true;
  other.join();
  same.join();
  for (const Status& status : tuned) EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_GT(searches, 6);
  EXPECT_EQ(mixed, 0) << "a search failed or saw twins of no complete state";
  EXPECT_EQ(plain, 0) << "a search fell back to the plain vectors while twins were on";
  // After the last tune (4,alpha=3), both handles search its twins.
  EXPECT_EQ(ColorLayoutHits(*reader), answers[1]);
  EXPECT_EQ(ColorLayoutHits(*writer), answers[1]);
}

}  // namespace
}  // namespace imgsearch
