// The native JSON API: search by upload or id, upload, images and thumbnails by id,
// delete, duplicates, health.
#include <filesystem>

#include "base/env.h"
#include "base/log.h"
#include "image/encode.h"
#include "pipeline/compare_report.h"
#include "pipeline/ingest.h"
#include "pipeline/search.h"
#include "server/http_reply.h"
#include "server/search_request.h"
#include "server/server_state.h"

namespace imgsearch::server {
namespace {

using json = nlohmann::json;

constexpr size_t kThumbnailCacheEntries = 4096;

Result<int64_t> IdFromPath(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("image id must be a non-negative integer");
  }
  return std::stoll(text);
}

}  // namespace

// The database is the truth and the write is already acknowledged there: a mirror that
// cannot follow is reported in the log and repaired by a full sync at the next update.
void Server::State::MirrorImage(int64_t id, bool removed) {
  if (mirror == nullptr) return;
  std::lock_guard<std::mutex> lock(mirror_mutex);
  auto images = library->database().GetCollection(kImagesCollectionName);
  Status status = images.status();
  if (status.ok() && mirror_stale) status = mirror->Sync(**images).status();
  if (status.ok() && removed) status = mirror->Remove(kImagesCollectionName, id);
  if (status.ok() && !removed) {
    std::vector<std::string> fields;  // the mirror holds fields, not vectors
    for (const FieldSchema& f : (*images)->schema().scalar_fields) fields.push_back(f.name);
    auto rows = (*images)->Get({id}, fields);
    status = rows.status();
    if (status.ok() && !rows->empty()) status = mirror->Put(kImagesCollectionName, (*rows)[0]);
  }
  mirror_stale = !status.ok();
  if (mirror_stale)
    IMGSEARCH_LOG_WARN("the Redis mirror missed image {}: {}", id, status.ToString());
}

void Server::State::Health(httplib::Response& res) const {
  auto images = library->database().GetCollection(kImagesCollectionName);
  SendJson(res, {{"status", "ok"},
                 {"models", library->ModelNames()},
                 {"images", images.ok() ? (*images)->Count() : int64_t{0}}});
}

void Server::State::Search(const httplib::Request& req, httplib::Response& res) {
  auto call =
      req.is_multipart_form_data() ? ParseMultipartSearch(req.files) : ParseJsonSearch(req.body);
  if (!call.ok()) return SendStatus(res, call.status());
  call->options.max_pixels = options.max_image_pixels;
  // The answer: the results per model and fused, and how far the models agree.
  auto answer =
      WithinTimeLimit<Result<json>>(req, [this, call = std::move(*call)]() -> Result<json> {
        IMGSEARCH_ASSIGN_OR_RETURN(SearchResults results,
                                   library->Search(call.query, call.options));
        json out = results.ToJson(call.label);
        out["comparison"] = library->Compare(results);
        return out;
      });
  if (!answer) return SendError(res, 503, TimeLimitMessage(req));
  if (!answer->ok()) return SendStatus(res, answer->status());
  SendJson(res, **answer);
}

// The groups of the same picture; quadratic in the library's size, so under the time limit.
void Server::State::Duplicates(const httplib::Request& req, httplib::Response& res) {
  auto options = ParseDuplicatesQuery(req.params);
  if (!options.ok()) return SendStatus(res, options.status());
  auto report = WithinTimeLimit<Result<DuplicateReport>>(
      req, [this, options = *options] { return library->FindDuplicates(options); });
  if (!report) return SendError(res, 503, TimeLimitMessage(req));
  if (!report->ok()) return SendStatus(res, report->status());
  SendJson(res, (*report)->ToJson());
}

void Server::State::Image(const httplib::Request& req, httplib::Response& res) const {
  auto id = IdFromPath(req.matches[1]);
  if (!id.ok()) return SendStatus(res, id.status());
  auto path = library->PathOf(*id);
  if (!path.ok()) return SendStatus(res, path.status());
  auto bytes = base::Env::Default()->ReadFile(*path, 256u << 20);
  if (!bytes.ok())
    return SendError(res, 410, "image " + std::to_string(*id) + " is indexed but its file is gone");
  res.set_content(*bytes, ImageFormatFileOf(DetectImageFormat(*bytes)).content_type);
}

void Server::State::Thumbnail(const httplib::Request& req, httplib::Response& res) {
  auto id = IdFromPath(req.matches[1]);
  if (!id.ok()) return SendStatus(res, id.status());
  {
    std::lock_guard<std::mutex> lock(thumbnails_mutex);
    if (auto it = thumbnails.find(*id); it != thumbnails.end())
      return res.set_content(it->second, "image/jpeg");
  }
  auto path = library->PathOf(*id);
  if (!path.ok()) return SendStatus(res, path.status());
  auto image = LoadImage(*path);
  if (!image.ok())
    return SendError(res, 410, "image " + std::to_string(*id) + " cannot be read any more");
  auto jpeg = image::EncodeJpeg(image::Thumbnail(*image, 256), 80);
  if (!jpeg.ok()) return SendStatus(res, jpeg.status());
  std::lock_guard<std::mutex> lock(thumbnails_mutex);
  if (thumbnails.size() >= kThumbnailCacheEntries) thumbnails.erase(thumbnails.begin());
  thumbnails[*id] = *jpeg;
  res.set_content(*jpeg, "image/jpeg");
}

// Stores an uploaded image under DIR/uploads/<content hash>.<ext> and ingests it into
// every model; the same content uploaded twice is one image.
void Server::State::Upload(const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data() || !req.has_file("image")) {
    return SendError(res, 400, "upload an image as multipart field \"image\"");
  }
  auto fields = ParseUploadFields(req.files);  // the image's user fields, if given
  if (!fields.ok()) return SendStatus(res, fields.status());
  auto added = library->AddImage(req.get_file_value("image").content, *fields);
  if (!added.ok()) return SendStatus(res, added.status());
  MirrorImage(added->id, /*removed=*/false);
  res.status = added->created ? 201 : 200;
  SendJson(res, {{"id", added->id},
                 {"created", added->created},
                 {"width", added->width},
                 {"height", added->height}});
}

void Server::State::Delete(const httplib::Request& req, httplib::Response& res) {
  auto id = IdFromPath(req.matches[1]);
  if (!id.ok()) return SendStatus(res, id.status());
  auto deleted = library->RemoveImages({*id});
  if (!deleted.ok()) return SendStatus(res, deleted.status());
  MirrorImage(*id, /*removed=*/true);
  if (*deleted == 0) return SendError(res, 404, "no image with id " + std::to_string(*id));
  std::lock_guard<std::mutex> lock(thumbnails_mutex);
  thumbnails.erase(*id);
  SendJson(res, {{"deleted", *id}});
}

}  // namespace imgsearch::server
