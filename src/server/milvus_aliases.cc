// aliases/{create, describe, list, alter, drop} and collections/rename.
//
// Aliases are one database setting, a JSON object alias -> collection, changed inside a
// transaction so that concurrent changes from several processes never lose one another.
// Every route that names a collection also takes an alias of it (NamedCollection).
#include <algorithm>

#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

constexpr const char* kAliasesSetting = "milvus.aliases";

json ParseAliases(const std::optional<std::string>& text) {
  if (!text || text->empty()) return json::object();
  json aliases = json::parse(*text, nullptr, false);
  return aliases.is_object() ? aliases : json::object();
}

json Aliases(const Database& db) {
  return ParseAliases(ValueOrFail(db.GetSetting(kAliasesSetting)));
}

// Applies `change` to the aliases atomically across processes.
void ChangeAliases(const Context& c, const std::function<void(json&)>& change) {
  // `change` may refuse (throw); the throw waits until the transaction has rolled back.
  std::optional<MilvusFailure> refused;
  Status status = c.db().Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> text, txn.GetSetting(kAliasesSetting));
    json aliases = ParseAliases(text);
    try {
      change(aliases);
    } catch (const MilvusFailure& failure) {
      refused = failure;
      return Status::InvalidArgument(failure.message);
    }
    return txn.PutSetting(kAliasesSetting, aliases.dump());
  });
  if (refused) throw *refused;
  FailIfError(status);
}

// The collection a request names, which must be a collection, not an alias.
std::string RealCollection(const Context& c) {
  std::string name = c.RequiredString("collectionName");
  if (name[0] == '$' || !c.db().HasCollection(name))  // $: the hidden companions
    Fail(kMilvusCollectionNotFound, "collection not found[collection=" + name + "]");
  return name;
}

std::string CheckedAliasName(const Context& c) {
  std::string alias = c.RequiredString("aliasName");
  bool valid = alias.size() <= 255 && !std::isdigit((unsigned char)alias[0]);
  for (char ch : alias) valid = valid && (std::isalnum((unsigned char)ch) || ch == '_');
  if (!valid) {
    Fail(kMilvusParameterInvalid, "invalid alias \"" + alias +
                                      "\": use 1-255 letters, digits or underscores, not "
                                      "starting with a digit");
  }
  return alias;
}

}  // namespace

std::optional<std::string> AliasTarget(const Database& db, const std::string& name) {
  json aliases = Aliases(db);
  auto it = aliases.find(name);
  if (it == aliases.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::vector<std::string> AliasesOf(const Database& db, const std::string& collection) {
  std::vector<std::string> out;
  const json aliases = Aliases(db);
  for (const auto& [alias, target] : aliases.items()) {
    if (target == collection) out.push_back(alias);
  }
  return out;
}

void RenameCatalogue(Context& c, const std::string& from, const std::string& to) {
  ChangeAliases(c, [&](json& aliases) {
    for (auto& [alias, target] : aliases.items()) {
      if (target == from) target = to;
    }
  });
  FailIfError(c.db().Transact([&](Transaction& txn) -> Status {
    for (const std::string& prefix : kCollectionSettings) {
      IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.GetSetting(prefix + from));
      IMGSEARCH_RETURN_IF_ERROR(txn.PutSetting(prefix + to, value.value_or("")));
      IMGSEARCH_RETURN_IF_ERROR(txn.PutSetting(prefix + from, ""));
    }
    return Status::Ok();
  }));
  MilvusHandlers::RenameLoadState(*c.api, from, to);
}

json MilvusHandlers::CreateAlias(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "aliasName"});
  std::string collection = RealCollection(c);
  std::string alias = CheckedAliasName(c);
  if (c.db().HasCollection(alias)) {
    Fail(kMilvusAliasCollectionNameConflict,
         "alias and collection name conflict[alias=" + alias + "]: a collection has that name");
  }
  ChangeAliases(c, [&](json& aliases) {
    if (aliases.contains(alias) && aliases[alias] != collection) {
      Fail(kMilvusAliasAlreadyExists, "alias already exist[alias=" + alias + "]: it points to " +
                                          aliases[alias].dump() + "; use aliases/alter");
    }
    aliases[alias] = collection;
  });
  return json::object();
}

json MilvusHandlers::DescribeAlias(Context& c, MilvusReply&) {
  c.AcceptOnly({"aliasName"});
  std::string alias = c.RequiredString("aliasName");
  std::optional<std::string> target = AliasTarget(c.db(), alias);
  if (!target) Fail(kMilvusAliasNotFound, "alias not found[alias=" + alias + "]");
  return {{"aliasName", alias}, {"collectionName", *target}, {"dbName", "default"}};
}

json MilvusHandlers::ListAliases(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName"});
  if (c.String("collectionName").empty()) {
    json names = json::array();
    const json aliases = Aliases(c.db());
    for (const auto& [alias, target] : aliases.items()) names.push_back(alias);
    return names;
  }
  return AliasesOf(c.db(), RealCollection(c));
}

json MilvusHandlers::AlterAlias(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "aliasName"});
  std::string collection = RealCollection(c);
  std::string alias = c.RequiredString("aliasName");
  ChangeAliases(c, [&](json& aliases) {
    if (!aliases.contains(alias))
      Fail(kMilvusAliasNotFound, "alias not found[alias=" + alias + "]");
    aliases[alias] = collection;
  });
  return json::object();
}

json MilvusHandlers::DropAlias(Context& c, MilvusReply&) {
  c.AcceptOnly({"aliasName"});
  std::string alias = c.RequiredString("aliasName");
  // As Milvus: dropping an alias that does not exist succeeds.
  ChangeAliases(c, [&](json& aliases) { aliases.erase(alias); });
  return json::object();
}

json MilvusHandlers::RenameCollection(Context& c, MilvusReply&) {
  c.AcceptOnly({"collectionName", "newCollectionName", "newDbName"});
  std::string from = RealCollection(c);
  std::string to = c.RequiredString("newCollectionName");
  std::string new_db = c.String("newDbName");
  if (!new_db.empty() && new_db != "default") {
    Fail(kMilvusDatabaseNotFound,
         "database \"" + new_db + "\" not found: imgsearch has one database, \"default\"");
  }
  if (c.db().HasCollection(to) || AliasTarget(c.db(), to)) {
    Fail(kMilvusParameterInvalid,
         "duplicated new collection name " + to + " (a collection or an alias has that name)");
  }
  if (to.empty() || to[0] == '$')
    Fail(kMilvusParameterInvalid, "invalid new collection name \"" + to + "\"");
  std::vector<std::string> companions = CompanionFields(c.db(), from);
  for (const std::string& field : companions) {  // checked before anything moves
    std::string companion = CompanionName(to, field);
    if (companion.size() > 255 || c.db().HasCollection(companion)) {
      Fail(kMilvusParameterInvalid, "cannot rename to \"" + to + "\": vector field \"" + field +
                                        "\" would need the collection \"" + companion + "\"");
    }
  }
  FailIfError(c.db().RenameCollection(from, to));
  for (const std::string& field : companions)
    FailIfError(c.db().RenameCollection(CompanionName(from, field), CompanionName(to, field)));
  RenameCatalogue(c, from, to);
  return json::object();
}

}  // namespace imgsearch::server
