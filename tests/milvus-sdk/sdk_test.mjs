// The official Milvus Node SDK (@zilliz/milvus2-sdk-node, its HttpClient, pinned in
// package.json) drives `imgsearch serve` on an empty folder through collections,
// partitions, aliases, dynamic-field inserts, search, hybrid search, query, count(*),
// get, delete, VarChar keys, rename and drop, exactly as it would drive Milvus.
//
//   node tests/milvus-sdk/sdk_test.mjs IMGSEARCH_BINARY WORK_DIR
//
// The packages are installed by scripts/setup.sh --tests (npm ci here); without them
// the test fails with the command that installs them, it never passes silently.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [imgsearch, work] = process.argv.slice(2);
if (!work) throw new Error("usage: sdk_test.mjs IMGSEARCH_BINARY WORK_DIR");

let HttpClient;
try {
  ({ HttpClient } = await import("@zilliz/milvus2-sdk-node"));
} catch (e) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  console.error(`@zilliz/milvus2-sdk-node is not installed: run (cd ${here} && npm ci) ` +
                `or scripts/setup.sh --tests (${e.message})`);
  process.exit(1);
}

function check(condition, message, detail) {
  if (!condition) {
    throw new Error("check failed: " + message + (detail === undefined ? "" : ": " + JSON.stringify(detail)));
  }
  console.log("ok: " + message);
}
// A reply that must succeed (Milvus's {"code": 0, "data": ...}).
function ok(reply, what) {
  check(reply && reply.code === 0, what, reply);
  return reply.data;
}
const sorted = (values) => [...values].map(String).sort();

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

function startServer() {
  const server = spawn(imgsearch, ["serve", "--db", path.join(work, "db"), "--port", "0"],
                       { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/on (http:\/\/[0-9.]+:\d+)/);
      if (match) resolve({ server, url: match[1] });
    });
    server.on("exit", (code) => reject(new Error("serve exited early with " + code)));
  });
}

const { server, url } = await startServer();
try {
  // As an application would: no token (the SDK sends "Bearer "), default database.
  const client = new HttpClient({ endpoint: url });

  // Collections: the quick form (dynamic fields on, as in Milvus).
  ok(await client.createCollection({ collectionName: "books", dimension: 4, metricType: "L2" }),
     "createCollection (quick form)");
  const described = ok(await client.describeCollection({ collectionName: "books" }), "describeCollection");
  check(described.enableDynamicField === true, "quick-form collections have dynamic fields", described);
  check(ok(await client.hasCollection({ collectionName: "books" }), "hasCollection").has === true,
        "hasCollection says yes");
  check(ok(await client.listCollections(), "listCollections").includes("books"), "listCollections lists it");
  const loadState = ok(await client.getCollectionLoadState({ collectionName: "books" }), "getCollectionLoadState");
  check(loadState.loadState === "LoadStateLoaded", "the collection is loaded", loadState);

  // Partitions.
  ok(await client.createPartition({ collectionName: "books", partitionName: "novels" }), "createPartition");
  const partitions = ok(await client.listPartitions({ collectionName: "books" }), "listPartitions");
  check(JSON.stringify(partitions) === JSON.stringify(["_default", "novels"]), "both partitions listed", partitions);
  check(ok(await client.hasPartition({ collectionName: "books", partitionName: "novels" }), "hasPartition").has,
        "hasPartition says yes");

  // Dynamic-field inserts, into a partition and into _default. The SDK asks for int64
  // as strings (Accept-Type-Allow-Int64: false): ids come back as strings.
  const novels = [
    { id: 1, vector: [0, 0, 0, 0], genre: "mystery", year: 1934 },
    { id: 2, vector: [1, 0, 0, 0], genre: "scifi", year: 1951 },
    { id: 3, vector: [2, 0, 0, 0], genre: "scifi", year: 1965 },
  ];
  const inserted = ok(await client.insert({ collectionName: "books", partitionName: "novels", data: novels }),
                      "insert into a partition");
  check(JSON.stringify(inserted.insertIds) === JSON.stringify(["1", "2", "3"]), "insertIds as strings", inserted);
  ok(await client.insert({ collectionName: "books", data: [{ id: 4, vector: [9, 9, 9, 9], genre: "poetry" }] }),
     "insert into _default");
  ok(await client.upsert({ collectionName: "books", partitionName: "novels",
                           data: [{ id: 3, vector: [3, 0, 0, 0], genre: "scifi", year: 1966 }] }),
     "upsert");

  // Search: a filter on a dynamic key, within a partition, output fields flattened.
  const hits = await client.search({
    collectionName: "books", data: [[2, 0, 0, 0]], limit: 2, filter: 'genre == "scifi"',
    partitionNames: ["novels"], outputFields: ["genre", "year"],
  });
  ok(hits, "search");
  check(hits.data.length === 2 && hits.data[0].id === "2" && hits.data[1].id === "3",
        "search hits carry the key as \"id\", nearest first", hits.data);
  check(hits.data[1].year === 1966 && hits.data[0].genre === "scifi", "dynamic keys come back", hits.data);
  check(typeof hits.data[0].distance === "number", "hits carry a distance", hits.data[0]);
  const inDefault = await client.search({ collectionName: "books", data: [[9, 9, 9, 9]], limit: 10,
                                          partitionNames: ["_default"] });
  check(ok(inDefault, "search in _default").length === 1 && inDefault.data[0].id === "4",
        "a partition's search sees only its rows", inDefault.data);

  // Hybrid search, both rerankers.
  const sub = (vector) => ({ data: [vector], annsField: "vector", limit: 4 });
  const rrf = await client.hybridSearch({
    collectionName: "books", search: [sub([0, 0, 0, 0]), sub([3, 0, 0, 0])],
    rerank: { strategy: "rrf", params: { k: 60 } }, limit: 3, outputFields: ["genre"],
  });
  ok(rrf, "hybridSearch rrf");
  check(rrf.data.length === 3 && rrf.data.every((h) => typeof h.distance === "number" && h.genre),
        "rrf fuses the two searches", rrf.data);
  const weighted = await client.hybridSearch({
    collectionName: "books", search: [sub([0, 0, 0, 0]), sub([3, 0, 0, 0])],
    rerank: { strategy: "weighted", params: { weights: [1, 0] } }, limit: 1,
  });
  check(ok(weighted, "hybridSearch weighted").length === 1 && weighted.data[0].id === "1",
        "weighted with all weight on the first search follows it", weighted.data);

  // Query, count(*), get.
  const queried = ok(await client.query({ collectionName: "books", filter: "year > 1940",
                                          outputFields: ["year"] }), "query");
  check(JSON.stringify(sorted(queried.map((r) => r.id))) === JSON.stringify(["2", "3"]),
        "query by a dynamic key", queried);
  const counted = ok(await client.query({ collectionName: "books", filter: "", outputFields: ["count(*)"] }),
                     "query count(*)");
  check(counted[0]["count(*)"] === "4", "count(*) counts every row", counted);
  const got = ok(await client.get({ collectionName: "books", id: [1, 4], outputFields: ["genre"] }), "get");
  check(JSON.stringify(sorted(got.map((r) => r.genre))) === JSON.stringify(["mystery", "poetry"]),
        "get by ids", got);
  const stats = ok(await client.getPartitionStatistics({ collectionName: "books", partitionName: "novels" }),
                   "getPartitionStatistics");
  check(stats.rowCount === 3, "the partition holds its three rows", stats);

  // Aliases.
  ok(await client.createAlias({ collectionName: "books", aliasName: "library" }), "createAlias");
  const alias = ok(await client.describeAlias({ aliasName: "library" }), "describeAlias");
  check(alias.collectionName === "books", "the alias names the collection", alias);
  check(ok(await client.listAliases({ collectionName: "books" }), "listAliases").includes("library"),
        "listAliases lists it");
  const viaAlias = ok(await client.query({ collectionName: "library", filter: "id == 4" }), "query via alias");
  check(viaAlias.length === 1, "reads go through the alias", viaAlias);
  ok(await client.createCollection({ collectionName: "books2", dimension: 4, metricType: "L2" }),
     "createCollection books2");
  ok(await client.alterAlias({ collectionName: "books2", aliasName: "library" }), "alterAlias");
  check(ok(await client.describeAlias({ aliasName: "library" }), "describeAlias").collectionName === "books2",
        "the alias moved");
  ok(await client.alterAlias({ collectionName: "books", aliasName: "library" }), "alterAlias back");

  // Delete.
  const deleted = await client.delete({ collectionName: "books", filter: 'genre == "mystery"' });
  check(deleted.code === 0, "delete by a filter", deleted);
  const left = ok(await client.query({ collectionName: "books", filter: "", outputFields: ["count(*)"] }),
                  "count after delete");
  check(left[0]["count(*)"] === "3", "one row fewer", left);

  // Rename keeps rows, partitions and aliases.
  ok(await client.renameCollection({ collectionName: "books", newCollectionName: "shelf" }), "renameCollection");
  check(ok(await client.hasCollection({ collectionName: "books" }), "hasCollection").has === false,
        "the old name is gone");
  check(ok(await client.describeAlias({ aliasName: "library" }), "describeAlias").collectionName === "shelf",
        "the alias follows the rename");
  check(ok(await client.listPartitions({ collectionName: "shelf" }), "listPartitions").includes("novels"),
        "the partitions follow the rename");

  // VarChar primary keys, schema form.
  ok(await client.createCollection({
    collectionName: "docs",
    schema: {
      autoID: false, enableDynamicField: false,
      fields: [
        { fieldName: "doc_id", dataType: "VarChar", isPrimary: true, elementTypeParams: { max_length: 64 } },
        { fieldName: "embedding", dataType: "FloatVector", elementTypeParams: { dim: 2 } },
        { fieldName: "meta", dataType: "JSON" },
      ],
    },
    indexParams: [{ fieldName: "embedding", metricType: "L2", indexType: "FLAT" }],
  }), "createCollection with a VarChar key");
  ok(await client.insert({ collectionName: "docs", data: [
    { doc_id: "a-1", embedding: [0, 0], meta: { lang: "en" } },
    { doc_id: "b-2", embedding: [5, 5], meta: { lang: "de" } },
  ] }), "insert with VarChar keys");
  const docHits = ok(await client.search({ collectionName: "docs", data: [[5, 4]], limit: 1,
                                           outputFields: ["meta"] }), "search docs");
  check(docHits[0].id === "b-2", "VarChar keys come back as \"id\"", docHits);
  check(docHits[0].meta === '{"lang":"de"}', "JSON fields come back as JSON text", docHits);
  const docs = ok(await client.get({ collectionName: "docs", id: ["a-1"] }), "get by VarChar key");
  check(docs.length === 1 && docs[0].doc_id === "a-1", "get by VarChar key finds the row", docs);

  // Refused: users, roles, import.
  const users = await client.listUsers();
  check(users.code === 10, "users answer code 10 (service unimplemented)", users);

  // Drop: aliases first, as Milvus requires; a loaded partition only once released.
  const refused = await client.dropCollection({ collectionName: "shelf" });
  check(refused.code !== 0, "a collection with aliases is not dropped", refused);
  ok(await client.dropAlias({ aliasName: "library" }), "dropAlias");
  ok(await client.releasePartitions({ collectionName: "shelf", partitionNames: ["novels"] }), "releasePartitions");
  ok(await client.dropPartition({ collectionName: "shelf", partitionName: "novels" }), "dropPartition");
  ok(await client.releaseCollection({ collectionName: "shelf" }), "releaseCollection");
  ok(await client.loadCollection({ collectionName: "shelf" }), "loadCollection");
  for (const name of ["shelf", "books2", "docs"]) {
    ok(await client.dropCollection({ collectionName: name }), "dropCollection " + name);
  }
  // (The library's own collections, such as "images", stay.)
  const remaining = ok(await client.listCollections(), "listCollections");
  check(!["shelf", "books", "books2", "docs"].some((n) => remaining.includes(n)),
        "every collection made here is gone", remaining);
} finally {
  server.kill("SIGTERM");
}
console.log("milvus sdk test passed");
