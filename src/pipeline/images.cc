#include "pipeline/images.h"
#include "store/filter.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace imgsearch::pipeline {
namespace {

using json = nlohmann::json;

// Paths per lookup query: long enough to amortise the query, short enough for its filter.
constexpr size_t kLookupBatch = 512;

std::vector<uint8_t> HashBits(const std::string& hash) {
  std::vector<uint8_t> bits(8, 0);
  for (size_t i = 0; i < 8 && 2 * i + 1 < hash.size(); ++i) {
    bits[i] = static_cast<uint8_t>(std::strtoul(hash.substr(2 * i, 2).c_str(), nullptr, 16));
  }
  return bits;
}

}  // namespace

CollectionSchema ImagesSchema() {
  CollectionSchema s;
  s.name = kImagesCollection;
  s.description = "the library's images; every model's vectors are stored by these ids";
  s.auto_id = false;  // ids come from the image_id counter, inside each write
  s.vector_field = "content";
  s.vector_type = DataType::kBinaryVector;
  s.dimension = 64;
  s.scalar_fields = {{"path", DataType::kVarChar, false, 4096, /*indexed=*/true},
                     {"size", DataType::kInt64},
                     {"mtime", DataType::kInt64},
                     {"hash", DataType::kVarChar, false, 32, /*indexed=*/true},
                     {"width", DataType::kInt64},
                     {"height", DataType::kInt64},
                     {"fields", DataType::kJson}};
  return s;
}

Result<std::shared_ptr<Collection>> OpenImages(Database& db) {
  if (!db.HasCollection(kImagesCollection)) {
    Status created = db.CreateCollection(ImagesSchema(), {"BIN_FLAT", "HAMMING"});
    if (!created.ok() && !db.HasCollection(kImagesCollection)) return created;  // not a race lost
  }
  IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> images,
                             db.GetCollection(kImagesCollection));
  if (images->schema().FindScalar("path") == nullptr ||
      images->schema().FindScalar("fields") == nullptr) {
    return Status::Unsupported(
        "the collection \"images\" is not an imgsearch library's list of images");
  }
  return images;
}

Row ImageRow(const ImageInfo& image) {
  Row row;
  row.id = image.id;
  row.binary_vector = HashBits(image.hash);
  row.fields = {{"path", image.path},
                {"size", image.size},
                {"mtime", image.mtime_ns},
                {"hash", image.hash},
                {"width", image.width},
                {"height", image.height},
                {"fields", image.fields.is_object() ? image.fields : json::object()}};
  return row;
}

const std::vector<std::string>& ImageFieldNames() {
  static const std::vector<std::string> names = {"path",  "size",   "mtime", "hash",
                                                 "width", "height", "fields"};
  return names;
}

ImageInfo ImageFromRow(const Row& row) {
  const json& f = row.fields;
  ImageInfo image;
  image.id = row.id;
  image.path = f.value("path", "");
  image.size = f.value("size", int64_t{0});
  image.mtime_ns = f.value("mtime", int64_t{0});
  image.hash = f.value("hash", "");
  image.width = f.value("width", 0);
  image.height = f.value("height", 0);
  if (auto it = f.find("fields"); it != f.end() && it->is_object()) image.fields = *it;
  return image;
}

std::vector<std::string> InFilters(const std::string& field,
                                   const std::vector<std::string>& values) {
  std::vector<std::string> filters;
  for (size_t first = 0; first < values.size(); first += kLookupBatch) {
    std::string filter = field + " in [";
    for (size_t i = first; i < std::min(values.size(), first + kLookupBatch); ++i)
      filter += (i > first ? ", " : "") + store::QuoteFilterLiteral(values[i]);
    filters.push_back(filter + "]");
  }
  return filters;
}

namespace {

// The images whose `field` has one of `values`, through that field's index.
Result<std::vector<ImageInfo>> ImagesWhere(const Collection& images, const std::string& field,
                                           const std::vector<std::string>& values) {
  std::vector<ImageInfo> found;
  for (const std::string& filter : InFilters(field, values)) {
    QueryRequest query;
    query.filter = filter;
    query.output_fields = ImageFieldNames();
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Query(query));
    for (const Row& row : rows) found.push_back(ImageFromRow(row));
  }
  return found;
}

}  // namespace

Result<std::map<std::string, ImageInfo>> ImagesByPath(const Collection& images,
                                                      const std::vector<std::string>& paths) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<ImageInfo> found, ImagesWhere(images, "path", paths));
  std::map<std::string, ImageInfo> by_path;
  for (ImageInfo& image : found) by_path[image.path] = std::move(image);
  return by_path;
}

Result<std::multimap<std::string, ImageInfo>> ImagesByHash(const Collection& images,
                                                           const std::vector<std::string>& hashes) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<ImageInfo> found, ImagesWhere(images, "hash", hashes));
  std::multimap<std::string, ImageInfo> by_hash;
  for (ImageInfo& image : found) by_hash.emplace(image.hash, std::move(image));
  return by_hash;
}

Result<std::map<int64_t, ImageInfo>> ImagesById(const Collection& images,
                                                const std::vector<int64_t>& ids) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, images.Get(ids, ImageFieldNames()));
  std::map<int64_t, ImageInfo> found;
  for (const Row& row : rows) found[row.id] = ImageFromRow(row);
  return found;
}

Result<std::vector<bool>> HaveEarlierCopies(
    const Collection& images, const std::vector<std::pair<std::string, int64_t>>& hash_ids) {
  std::vector<bool> earlier(hash_ids.size(), false);
  std::vector<std::string> hashes;
  for (const auto& [hash, id] : hash_ids) hashes.push_back(hash);
  IMGSEARCH_ASSIGN_OR_RETURN(auto holders, ImagesByHash(images, hashes));
  std::map<std::string, int64_t> lowest;  // by hash: the smallest id holding it
  for (const auto& [hash, image] : holders) {
    auto [it, added] = lowest.emplace(hash, image.id);
    if (!added) it->second = std::min(it->second, image.id);
  }
  for (size_t i = 0; i < hash_ids.size(); ++i) {
    auto it = lowest.find(hash_ids[i].first);
    earlier[i] = it != lowest.end() && it->second < hash_ids[i].second;
  }
  return earlier;
}

std::string ContentHash(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

}  // namespace imgsearch::pipeline
