// The native JSON API's search without HTTP: the body of POST /api/search as JSON
// (ParseJsonSearch: {"id", "k", "filter", "fuse", "models", "exclude_self"}), then what
// the server does with it: Library::Search over the built-in models, Compare, and the
// answer's JSON. The library is made at start: four small images with user fields
// (ids 1..4), under the built-in models phash and color_layout.
// Checks: a refusal is a Status; an accepted search answers per model at most k hits,
// each an image of the library, none twice, and not the query itself with exclude_self;
// a fused ranking has at most k hits, best first; the answer prints as the JSON the server sends.
#include <set>

#include "base/log.h"
#include "fuzz_check.h"
#include "image/encode.h"
#include "imgsearch/library.h"
#include "server/http_reply.h"
#include "server/search_request.h"

namespace {

using json = nlohmann::json;

std::string TinyJpeg(int seed) {
  imgsearch::Image image;
  image.width = 8 + seed;
  image.height = 6;
  for (int i = 0; i < image.width * image.height * 3; ++i)
    image.rgb.push_back(static_cast<uint8_t>((i * (seed + 3) * 29) & 0xff));
  auto jpeg = imgsearch::image::EncodeJpeg(image);
  FUZZ_CHECK(jpeg.ok(), "cannot encode a test image");
  return *jpeg;
}

struct Fixture {
  std::unique_ptr<imgsearch::Library> library;
  std::set<int64_t> ids;
};

Fixture& TheLibrary() {
  static Fixture fixture = [] {
    imgsearch::base::SetLogLevel("off");
    Fixture f;
    imgsearch::LibraryOptions options;
    options.inference_threads = 1;
    auto library = imgsearch::Library::Open(imgsearch::fuzz::ScratchDir("library"), options);
    FUZZ_CHECK(library.ok(), "cannot make the library");
    f.library = std::move(library).value();
    const char* labels[] = {"cat", "dog", "cat", "bird"};
    for (int i = 0; i < 4; ++i) {
      auto added = f.library->AddImage(TinyJpeg(i), {{"label", labels[i]}, {"rank", i}});
      FUZZ_CHECK(added.ok(), "cannot add an image");
      f.ids.insert(added->id);
    }
    return f;
  }();
  return fixture;
}

void CheckResults(const Fixture& f, const imgsearch::server::SearchCall& call,
                  const imgsearch::SearchResults& results) {
  const size_t k = static_cast<size_t>(std::max(call.options.k, 0));
  for (const auto& model : results.models) {
    FUZZ_CHECK(model.hits.size() <= k, "a model answers more than k hits");
    std::set<int64_t> seen;
    for (const auto& hit : model.hits) {
      FUZZ_CHECK(f.ids.count(hit.id) == 1, "a hit is not an image of the library");
      FUZZ_CHECK(seen.insert(hit.id).second, "a model answers an image twice");
      FUZZ_CHECK(!call.options.exclude_self || hit.id != call.query.id,
                 "exclude_self answers the query itself");
    }
  }
  FUZZ_CHECK(results.fused.size() <= k, "the fused ranking has more than k hits");
  for (size_t i = 1; i < results.fused.size(); ++i)
    FUZZ_CHECK(results.fused[i - 1].score >= results.fused[i].score, "fused ranking out of order");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = TheLibrary();
  auto call = imgsearch::server::ParseJsonSearch(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!call.ok()) return 0;
  auto results = f.library->Search(call->query, call->options);
  if (!results.ok()) return 0;
  CheckResults(f, *call, *results);
  json out = results->ToJson(call->label);
  out["comparison"] = f.library->Compare(*results);
  std::string sent = imgsearch::server::JsonText(out);  // what the server sends
  FUZZ_CHECK(nlohmann::json::accept(sent), "the answer is not JSON");
  return 0;
}
