#include "pipeline/image_ids.h"

#include <algorithm>
#include <map>
#include <set>

namespace imgsearch::pipeline {

int64_t PathImageId(const std::string& path, int attempt) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](unsigned char c) { h = (h ^ c) * 1099511628211ull; };
  for (unsigned char c : path) mix(c);
  for (int a = attempt; a > 0; a /= 256) mix(static_cast<unsigned char>(0x80 | (a & 0x7f)));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  int64_t id = static_cast<int64_t>(h >> 11);  // 53 bits
  return id == 0 ? 1 : id;
}

Result<std::vector<int64_t>> DerivedImageIds(const Collection& images,
                                             const std::vector<std::string>& paths) {
  std::vector<int64_t> ids(paths.size());
  std::vector<int> attempts(paths.size(), 0);
  std::vector<size_t> open;
  for (size_t i = 0; i < paths.size(); ++i) {
    ids[i] = PathImageId(paths[i]);
    open.push_back(i);
  }
  constexpr int kMostAttempts = 64;
  while (!open.empty()) {
    std::vector<int64_t> wanted;
    for (size_t i : open) wanted.push_back(ids[i]);
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> held, images.Get(wanted, {"path"}));
    std::map<int64_t, std::string> holder;
    for (const Row& row : held) holder[row.id] = row.fields.value("path", "");
    std::set<int64_t> settled;
    for (size_t i = 0; i < paths.size(); ++i) {
      if (std::find(open.begin(), open.end(), i) == open.end()) settled.insert(ids[i]);
    }
    std::vector<size_t> still_open;
    for (size_t i : open) {
      auto it = holder.find(ids[i]);
      // The same path under its id: another process added it meanwhile, with this id.
      bool taken = (it != holder.end() && it->second != paths[i]) || settled.count(ids[i]);
      if (!taken) {
        settled.insert(ids[i]);
        continue;
      }
      if (++attempts[i] >= kMostAttempts)
        return Status::Internal("no free image id for " + paths[i] + " after many tries");
      ids[i] = PathImageId(paths[i], attempts[i]);
      still_open.push_back(i);
    }
    open = std::move(still_open);
  }
  return ids;
}

}  // namespace imgsearch::pipeline
