#include "remote/redis_mirror.h"

#include <hiredis/hiredis.h>

#include <set>

namespace imgsearch::remote {
namespace {

constexpr size_t kPipelineDepth = 512;  // commands sent before their replies are read

struct Url {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
};

Result<Url> ParseUrl(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0)
    return Status::InvalidArgument("Redis URL \"" + url + "\" must start with redis://");
  Url out;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  try {
    if (slash != std::string::npos && slash + 1 < rest.size())
      out.db = std::stoi(rest.substr(slash + 1));
    size_t colon = authority.rfind(':');
    if (colon != std::string::npos) {
      out.port = std::stoi(authority.substr(colon + 1));
      authority = authority.substr(0, colon);
    }
  } catch (const std::exception&) {
    return Status::InvalidArgument("Redis URL \"" + url +
                                   "\" has a malformed port or database number");
  }
  if (!authority.empty()) out.host = authority;
  if (out.port <= 0 || out.port > 65535 || out.db < 0)
    return Status::InvalidArgument("Redis URL \"" + url + "\" is out of range");
  return out;
}

Status ReplyStatus(redisReply* reply, redisContext* context) {
  if (reply == nullptr)
    return Status::IOError(std::string("Redis: ") + (context->err ? context->errstr : "no reply"));
  Status s = reply->type == REDIS_REPLY_ERROR
                 ? Status::Internal(std::string("Redis: ") + reply->str)
                 : Status::Ok();
  freeReplyObject(reply);
  return s;
}

std::string AsText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

Result<std::unique_ptr<RedisMirror>> RedisMirror::Connect(const std::string& url) {
  IMGSEARCH_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  timeval timeout{5, 0};
  redisContext* context = redisConnectWithTimeout(u.host.c_str(), u.port, timeout);
  if (context == nullptr || context->err) {
    std::string why = context ? context->errstr : "out of memory";
    if (context) redisFree(context);
    return Status::IOError("cannot reach Redis at " + url + ": " + why);
  }
  redisSetTimeout(context, timeout);
  std::unique_ptr<RedisMirror> mirror(new RedisMirror(context));
  if (u.db != 0) IMGSEARCH_RETURN_IF_ERROR(mirror->Command({"SELECT", std::to_string(u.db)}));
  IMGSEARCH_RETURN_IF_ERROR(mirror->Command({"PING"}));
  return mirror;
}

RedisMirror::~RedisMirror() {
  redisFree(context_);
}

Status RedisMirror::Command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) argv.push_back(a.data()), lengths.push_back(a.size());
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, int(argv.size()), argv.data(), lengths.data()));
  return ReplyStatus(reply, context_);
}

Status RedisMirror::Flush(size_t pending) {
  Status first;
  for (size_t i = 0; i < pending; ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK)
      return Status::IOError(std::string("Redis: ") + context_->errstr);
    Status s = ReplyStatus(static_cast<redisReply*>(reply), context_);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

Status RedisMirror::Put(const std::string& collection, const Row& row) {
  std::vector<std::string> args = {"HSET", KeyPrefix(collection) + std::to_string(row.id)};
  for (const auto& [field, value] : row.fields.items())
    args.push_back(field), args.push_back(AsText(value));
  if (args.size() == 2) return Status::Ok();  // no fields to mirror
  return Command(args);
}

Status RedisMirror::Remove(const std::string& collection, int64_t id) {
  return Command({"DEL", KeyPrefix(collection) + std::to_string(id)});
}

Result<size_t> RedisMirror::Sync(const Collection& collection) {
  const std::string prefix = KeyPrefix(collection.schema().name);
  QueryRequest all;
  all.limit = std::numeric_limits<int64_t>::max();
  for (const FieldSchema& f : collection.schema().scalar_fields)
    all.output_fields.push_back(f.name);
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, collection.Query(all));
  std::set<std::string> live;
  size_t pending = 0;
  for (const Row& row : rows) {
    std::vector<std::string> args = {"HSET", prefix + std::to_string(row.id)};
    for (const auto& [field, value] : row.fields.items())
      args.push_back(field), args.push_back(AsText(value));
    live.insert(args[1]);
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) argv.push_back(a.data()), lengths.push_back(a.size());
    if (redisAppendCommandArgv(context_, int(argv.size()), argv.data(), lengths.data()) !=
        REDIS_OK) {
      return Status::IOError(std::string("Redis: ") + context_->errstr);
    }
    if (++pending == kPipelineDepth) IMGSEARCH_RETURN_IF_ERROR(Flush(std::exchange(pending, 0)));
  }
  IMGSEARCH_RETURN_IF_ERROR(Flush(std::exchange(pending, 0)));
  // Keys of rows that no longer exist.
  std::string cursor = "0";
  std::vector<std::string> stale;
  do {
    auto* reply = static_cast<redisReply*>(redisCommand(context_, "SCAN %s MATCH %b COUNT 1000",
                                                        cursor.c_str(), (prefix + "*").data(),
                                                        (prefix + "*").size()));
    if (reply == nullptr) return ReplyStatus(nullptr, context_);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      Status s = ReplyStatus(reply, context_);
      return s.ok() ? Status::Internal("Redis: unexpected SCAN reply") : s;
    }
    cursor = std::string(reply->element[0]->str, reply->element[0]->len);
    for (size_t i = 0; i < reply->element[1]->elements; ++i) {
      std::string key(reply->element[1]->element[i]->str, reply->element[1]->element[i]->len);
      if (!live.count(key)) stale.push_back(key);
    }
    freeReplyObject(reply);
  } while (cursor != "0");
  for (const std::string& key : stale) IMGSEARCH_RETURN_IF_ERROR(Command({"DEL", key}));
  return rows.size();
}

}  // namespace imgsearch::remote
