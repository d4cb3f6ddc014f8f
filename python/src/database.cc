// imgsearch.Database and imgsearch.Collection: the vector store directly, numpy in and
// out, as faiss and usearch are used (collection.search -> (ids, distances) of shape
// (nq, k)). Every call into the store releases the GIL.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "bindings.h"
#include "concurrency.h"
#include "convert.h"
#include "imgsearch/database.h"

namespace imgsearch::python {
namespace {

struct PyDatabase {
  std::shared_ptr<Database> db;
  std::shared_ptr<Database> Get() const {
    if (!db) Invalid("the database is closed");
    return db;
  }
};

struct PyCollection {
  std::shared_ptr<Database> db;  // the collection's database outlives it
  std::shared_ptr<Collection> c;
};

nb::object IndexDict(const IndexSpec& spec) {
  nb::dict d;
  d["index_type"] = spec.index_type;
  d["metric_type"] = spec.metric_type;
  d["params"] = FromJson(spec.params);
  d["name"] = spec.name;
  return d;
}

nb::object SchemaDict(const CollectionSchema& s) {
  nb::dict d;
  d["name"] = s.name;
  d["description"] = s.description;
  d["primary_field"] = s.primary_field;
  d["auto_id"] = s.auto_id;
  d["vector_field"] = s.vector_field;
  d["vector_type"] = DataTypeName(s.vector_type);
  d["dimension"] = s.dimension;
  nb::dict fields;
  for (const FieldSchema& f : s.scalar_fields) {
    nb::dict fd;
    fd["type"] = DataTypeName(f.type);
    fd["nullable"] = f.nullable;
    if (f.type == DataType::kVarChar) fd["max_length"] = f.max_length;
    fd["indexed"] = f.indexed;
    fields[nb::str(f.name.c_str())] = fd;
  }
  d["fields"] = fields;
  return d;
}

std::vector<FieldSchema> FieldSchemas(nb::handle fields) {
  std::vector<FieldSchema> out;
  if (fields.is_none()) return out;
  if (!nb::isinstance<nb::dict>(fields)) {
    Invalid(
        "fields: expected a dict {name: type} (type \"Int64\", \"Double\", \"VarChar\", "
        "\"Bool\", \"JSON\", or a dict with type, nullable, max_length, indexed)");
  }
  for (auto [name, spec] : nb::borrow<nb::dict>(fields)) {
    FieldSchema f;
    f.name = StrOf(name);
    if (nb::isinstance<nb::str>(spec)) {
      f.type = Take(ParseDataType(nb::cast<std::string>(spec)));
    } else if (nb::isinstance<nb::dict>(spec)) {
      nlohmann::json j = ToJson(spec);
      if (!j.contains("type") || !j["type"].is_string()) {
        Invalid("fields[\"" + f.name + "\"]: a dict needs \"type\"");
      }
      f.type = Take(ParseDataType(j["type"].get<std::string>()));
      for (const auto& [key, value] : j.items()) {
        if (key == "type") continue;
        if (key == "nullable")
          f.nullable = value.get<bool>();
        else if (key == "max_length")
          f.max_length = value.get<int>();
        else if (key == "indexed")
          f.indexed = value.get<bool>();
        else
          Invalid("fields[\"" + f.name + "\"]: unknown key \"" + key + "\"");
      }
    } else {
      Invalid("fields[\"" + f.name + "\"]: expected a type name or a dict");
    }
    out.push_back(f);
  }
  return out;
}

// Per-row fields: None, a list of n dicts, or a dict of n-long columns.
std::vector<nlohmann::json> RowFields(nb::handle fields, size_t n) {
  std::vector<nlohmann::json> out(n, nlohmann::json::object());
  if (fields.is_none()) return out;
  if (nb::isinstance<nb::dict>(fields)) {
    for (auto [name, column] : nb::borrow<nb::dict>(fields)) {
      std::string key = StrOf(name);
      nlohmann::json values = ToJson(column);
      if (!values.is_array() || values.size() != n) {
        Invalid("fields[\"" + key + "\"]: expected " + std::to_string(n) + " values, one per row");
      }
      for (size_t i = 0; i < n; ++i) out[i][key] = values[i];
    }
    return out;
  }
  nlohmann::json rows = ToJson(fields);
  if (!rows.is_array() || rows.size() != n) {
    Invalid("fields: expected a list of " + std::to_string(n) +
            " dicts (one per row) or a dict of columns");
  }
  for (size_t i = 0; i < n; ++i) {
    if (!rows[i].is_object()) Invalid("fields[" + std::to_string(i) + "]: expected a dict");
    out[i] = rows[i];
  }
  return out;
}

Matrix VectorsFor(const Collection& c, nb::handle vectors, const char* what) {
  const CollectionSchema& s = c.schema();
  if (s.binary()) {
    return CheckedMatrix(vectors, nb::dtype<uint8_t>(), "uint8", size_t(s.dimension) / 8, what);
  }
  return CheckedMatrix(vectors, nb::dtype<float>(), "float32", size_t(s.dimension), what);
}

std::vector<Row> MakeRows(const Collection& c, nb::handle ids, nb::handle vectors,
                          nb::handle fields) {
  Matrix m = VectorsFor(c, vectors, "vectors");
  std::vector<Row> rows(m.rows);
  if (ids.is_none()) {
    if (!c.schema().auto_id) {
      Invalid(
          "ids: this collection brings its own ids (created with auto_id=False): pass one "
          "per vector");
    }
  } else {
    std::vector<int64_t> list = IdList(ids, "ids");
    if (list.size() != m.rows) {
      Invalid("ids: " + std::to_string(list.size()) + " ids for " + std::to_string(m.rows) +
              " vectors");
    }
    for (size_t i = 0; i < m.rows; ++i) rows[i].id = list[i];
  }
  std::vector<nlohmann::json> f = RowFields(fields, m.rows);
  bool binary = c.schema().binary();
  for (size_t i = 0; i < m.rows; ++i) {
    if (binary) {
      const uint8_t* p = static_cast<const uint8_t*>(m.data) + i * m.cols;
      rows[i].binary_vector.assign(p, p + m.cols);
    } else {
      const float* p = static_cast<const float*>(m.data) + i * m.cols;
      rows[i].vector.assign(p, p + m.cols);
    }
    rows[i].fields = std::move(f[i]);
  }
  return rows;
}

nb::object RowDict(const Row& row, const CollectionSchema& s) {
  nb::dict d = nb::borrow<nb::dict>(FromJson(row.fields));
  d["id"] = row.id;
  if (!row.vector.empty()) {
    d[nb::str(s.vector_field.c_str())] = NumpyArray(row.vector, {row.vector.size()});
  } else if (!row.binary_vector.empty()) {
    d[nb::str(s.vector_field.c_str())] = NumpyArray(row.binary_vector, {row.binary_vector.size()});
  }
  return d;
}

std::vector<std::string> Names(nb::handle names) {
  std::vector<std::string> out;
  if (names.is_none()) return out;
  if (nb::isinstance<nb::str>(names)) return {nb::cast<std::string>(names)};
  for (nb::handle n : names) out.push_back(nb::cast<std::string>(n));
  return out;
}

nb::object Rows(const std::vector<Row>& rows, const CollectionSchema& s) {
  nb::list out;
  for (const Row& row : rows) out.append(RowDict(row, s));
  return out;
}

bool LargerIsBetter(const std::string& metric) {
  return metric == "IP" || metric == "COSINE";
}

}  // namespace

nb::object WrapDatabase(std::shared_ptr<Database> db) {
  return nb::cast(PyDatabase{std::move(db)});
}

namespace {

void BindCollection(nb::module_& m) {
  nb::class_<PyCollection>(m, "Collection",
                           R"doc(The rows of one vector field and their scalar fields,
with Milvus's operations and numpy in and out. Obtained from a Database.)doc")
      .def_prop_ro("name", [](const PyCollection& c) { return c.c->schema().name; })
      .def_prop_ro(
          "dimension", [](const PyCollection& c) { return c.c->schema().dimension; },
          "Floats per vector, or bits for a binary collection.")
      .def_prop_ro("binary", [](const PyCollection& c) { return c.c->schema().binary(); })
      .def_prop_ro("metric", [](const PyCollection& c) { return c.c->index().metric_type; })
      .def_prop_ro(
          "schema", [](const PyCollection& c) { return SchemaDict(c.c->schema()); },
          nb::sig("def schema(self) -> dict[str, typing.Any]"))
      .def_prop_ro(
          "index", [](const PyCollection& c) { return IndexDict(c.c->index()); },
          nb::sig("def index(self) -> dict[str, typing.Any]"),
          "{index_type, metric_type, params, name}, in Milvus's words.")
      .def(
          "insert",
          [](PyCollection& self, nb::handle ids, nb::handle vectors, nb::handle fields) {
            std::vector<Row> rows = MakeRows(*self.c, ids, vectors, fields);
            std::vector<int64_t> out;
            {
              nb::gil_scoped_release release;
              out = Take(self.c->Insert(std::move(rows)));
            }
            size_t n = out.size();
            return NumpyArray(std::move(out), {n});
          },
          nb::arg("ids").none(), nb::arg("vectors"), nb::arg("fields").none() = nb::none(),
          nb::sig("def insert(self, ids: numpy.typing.NDArray[numpy.integer] | "
                  "typing.Sequence[int] | None, vectors: numpy.typing.NDArray[numpy.float32] | "
                  "numpy.typing.NDArray[numpy.uint8], fields: typing.Sequence[typing.Mapping[str, "
                  "typing.Any]] | typing.Mapping[str, typing.Sequence[typing.Any]] | None = None) "
                  "-> numpy.typing.NDArray[numpy.int64]"),
          R"doc(Adds rows: ``vectors`` a C-contiguous array of shape (n, dimension), float32
(uint8 packed bits, shape (n, dimension/8), for a binary collection); ``ids`` n int64
ids (None for an auto_id collection); ``fields`` a list of n dicts or a dict of
n-long columns. All or nothing: an invalid row or an existing id writes nothing.
Returns the ids. The array is checked, never converted: a float64 array is an error.)doc")
      .def(
          "upsert",
          [](PyCollection& self, nb::handle ids, nb::handle vectors, nb::handle fields) {
            std::vector<Row> rows = MakeRows(*self.c, ids, vectors, fields);
            std::vector<int64_t> out;
            {
              nb::gil_scoped_release release;
              out = Take(self.c->Upsert(std::move(rows)));
            }
            size_t n = out.size();
            return NumpyArray(std::move(out), {n});
          },
          nb::arg("ids").none(), nb::arg("vectors"), nb::arg("fields").none() = nb::none(),
          nb::sig("def upsert(self, ids: numpy.typing.NDArray[numpy.integer] | "
                  "typing.Sequence[int] | None, vectors: numpy.typing.NDArray[numpy.float32] | "
                  "numpy.typing.NDArray[numpy.uint8], fields: typing.Sequence[typing.Mapping[str, "
                  "typing.Any]] | typing.Mapping[str, typing.Sequence[typing.Any]] | None = None) "
                  "-> numpy.typing.NDArray[numpy.int64]"),
          "Inserts or replaces rows by id (as insert).")
      .def(
          "delete",
          [](PyCollection& self, nb::handle ids) {
            std::vector<int64_t> list = IdList(ids, "ids");
            nb::gil_scoped_release release;
            return Take(self.c->Delete(list));
          },
          nb::arg("ids"),
          nb::sig("def delete(self, ids: int | typing.Sequence[int] | "
                  "numpy.typing.NDArray[numpy.integer]) -> int"),
          "Removes rows by id; returns how many existed.")
      .def(
          "delete_where",
          [](PyCollection& self, const std::string& filter) {
            nb::gil_scoped_release release;
            return Take(self.c->DeleteWhere(filter));
          },
          nb::arg("filter"), "Removes the rows matching a Milvus filter; returns how many.")
      .def(
          "search",
          [](const PyCollection& self, nb::handle vectors, int k, std::optional<std::string> filter,
             nb::handle params, int offset) {
            if (k <= 0) Invalid("k must be at least 1, got " + std::to_string(k));
            Matrix m = VectorsFor(*self.c, vectors, "vectors");
            SearchRequest request;
            request.limit = k;
            request.offset = offset;
            if (filter) request.filter = *filter;
            if (!params.is_none()) request.params = ToJson(params);
            bool binary = self.c->schema().binary();
            for (size_t i = 0; i < m.rows; ++i) {
              if (binary) {
                const uint8_t* p = static_cast<const uint8_t*>(m.data) + i * m.cols;
                request.binary_vectors.emplace_back(p, p + m.cols);
              } else {
                const float* p = static_cast<const float*>(m.data) + i * m.cols;
                request.vectors.emplace_back(p, p + m.cols);
              }
            }
            std::vector<std::vector<Hit>> hits;
            std::string metric;
            {
              nb::gil_scoped_release release;
              InFlight counted;
              hits = Take(self.c->Search(request));
              metric = self.c->index().metric_type;
            }
            size_t nq = m.rows, kk = size_t(k);
            float pad = LargerIsBetter(metric) ? -std::numeric_limits<float>::infinity()
                                               : std::numeric_limits<float>::infinity();
            std::vector<int64_t> ids(nq * kk, -1);
            std::vector<float> distances(nq * kk, pad);
            for (size_t q = 0; q < hits.size() && q < nq; ++q) {
              for (size_t j = 0; j < hits[q].size() && j < kk; ++j) {
                ids[q * kk + j] = hits[q][j].id;
                distances[q * kk + j] = hits[q][j].distance;
              }
            }
            return std::make_pair(NumpyArray(std::move(ids), {nq, kk}),
                                  NumpyArray(std::move(distances), {nq, kk}));
          },
          nb::arg("vectors"), nb::arg("k") = 10, nb::arg("filter").none() = nb::none(),
          nb::kw_only(), nb::arg("params").none() = nb::none(), nb::arg("offset") = 0,
          nb::sig("def search(self, vectors: numpy.typing.NDArray[numpy.float32] | "
                  "numpy.typing.NDArray[numpy.uint8], k: int = 10, filter: str | None = None, *, "
                  "params: typing.Mapping[str, typing.Any] | None = None, offset: int = 0) -> "
                  "tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float32]]"),
          R"doc(The ``k`` nearest rows to each query vector: ``(ids, distances)``, int64 and
float32 arrays of shape (nq, k), nearest first, as faiss answers. Rows with fewer hits
are padded with id -1 and distance inf (-inf for IP and COSINE, where larger is nearer).
Distances as Milvus gives them: L2 squared, IP and COSINE similarity, Hamming bits.
``filter``: a Milvus boolean expression over the scalar fields; ``params``: ef, nprobe,
radius, range_filter.)doc")
      .def(
          "get",
          [](const PyCollection& self, nb::handle ids, nb::handle output_fields) {
            std::vector<int64_t> list = IdList(ids, "ids");
            std::vector<std::string> fields = Names(output_fields);
            if (output_fields.is_none()) fields = {"*"};
            std::vector<Row> rows;
            {
              nb::gil_scoped_release release;
              rows = Take(self.c->Get(list, fields));
            }
            return Rows(rows, self.c->schema());
          },
          nb::arg("ids"), nb::arg("output_fields").none() = nb::none(),
          nb::sig("def get(self, ids: int | typing.Sequence[int] | "
                  "numpy.typing.NDArray[numpy.integer], output_fields: typing.Sequence[str] | None "
                  "= None) -> list[dict[str, typing.Any]]"),
          "Rows by id, in the order asked (missing ids left out): dicts of id, the scalar "
          "fields and the vector (output_fields None: all of them).")
      .def(
          "get_vectors",
          [](const PyCollection& self, nb::handle ids) {
            std::vector<int64_t> list = IdList(ids, "ids");
            const CollectionSchema& s = self.c->schema();
            std::vector<Row> rows;
            {
              nb::gil_scoped_release release;
              rows = Take(self.c->Get(list, {s.vector_field}));
            }
            if (rows.size() != list.size()) {
              std::set<int64_t> found;
              for (const Row& r : rows) found.insert(r.id);
              for (int64_t id : list) {
                if (!found.count(id)) {
                  throw StatusError(Status::NotFound("no row with id " + std::to_string(id) +
                                                     " in collection \"" + s.name + "\""));
                }
              }
            }
            size_t width = s.binary() ? size_t(s.dimension) / 8 : size_t(s.dimension);
            size_t n = rows.size();
            if (s.binary()) {
              std::vector<uint8_t> out;
              out.reserve(n * width);
              for (const Row& r : rows)
                out.insert(out.end(), r.binary_vector.begin(), r.binary_vector.end());
              return nb::cast(NumpyArray(std::move(out), {n, width}));
            }
            std::vector<float> out;
            out.reserve(n * width);
            for (const Row& r : rows) out.insert(out.end(), r.vector.begin(), r.vector.end());
            return nb::cast(NumpyArray(std::move(out), {n, width}));
          },
          nb::arg("ids"),
          nb::sig("def get_vectors(self, ids: int | typing.Sequence[int] | "
                  "numpy.typing.NDArray[numpy.integer]) -> numpy.typing.NDArray[numpy.float32] | "
                  "numpy.typing.NDArray[numpy.uint8]"),
          "The vectors of these ids as one (n, dimension) array, in the order asked "
          "(NotFound for a missing id).")
      .def(
          "query",
          [](const PyCollection& self, std::string filter, nb::handle output_fields, int64_t limit,
             int64_t offset, nb::handle ids) {
            QueryRequest q;
            q.filter = std::move(filter);
            if (!ids.is_none()) q.ids = IdList(ids, "ids");
            q.output_fields = Names(output_fields);
            if (output_fields.is_none()) q.output_fields = {"*"};
            q.limit = limit;
            q.offset = offset;
            std::vector<Row> rows;
            {
              nb::gil_scoped_release release;
              rows = Take(self.c->Query(q));
            }
            return Rows(rows, self.c->schema());
          },
          nb::arg("filter") = "", nb::arg("output_fields").none() = nb::none(), nb::kw_only(),
          nb::arg("limit") = -1, nb::arg("offset") = 0, nb::arg("ids").none() = nb::none(),
          nb::sig(
              "def query(self, filter: str = '', output_fields: typing.Sequence[str] | None = "
              "None, *, limit: int = -1, offset: int = 0, ids: typing.Sequence[int] | "
              "numpy.typing.NDArray[numpy.integer] | None = None) -> list[dict[str, typing.Any]]"),
          "Rows matching a Milvus filter, in ascending id order.")
      .def("__len__",
           [](const PyCollection& self) {
             nb::gil_scoped_release release;
             return self.c->Count();
           })
      .def_prop_ro("count",
                   [](const PyCollection& self) {
                     nb::gil_scoped_release release;
                     return self.c->Count();
                   })
      .def(
          "stats",
          [](const PyCollection& self) {
            CollectionStats s;
            {
              nb::gil_scoped_release release;
              s = self.c->Stats();
            }
            nb::dict d;
            d["row_count"] = s.row_count;
            d["indexed_rows"] = s.indexed_rows;
            d["pending_rows"] = s.pending_rows;
            d["deleted_slots"] = s.deleted_slots;
            d["last_sequence"] = s.last_sequence;
            d["snapshot_sequence"] = s.snapshot_sequence;
            d["index_memory_bytes"] = s.index_memory_bytes;
            return d;
          },
          nb::sig("def stats(self) -> dict[str, int]"))
      .def(
          "create_index",
          [](PyCollection& self, const std::string& index_type, std::optional<std::string> metric,
             nb::handle params) {
            IndexSpec spec(index_type, metric ? *metric : self.c->index().metric_type,
                           params.is_none() ? nlohmann::json::object() : ToJson(params));
            nb::gil_scoped_release release;
            Check(self.c->CreateIndex(spec));
          },
          nb::arg("index_type"), nb::arg("metric").none() = nb::none(),
          nb::arg("params").none() = nb::none(),
          nb::sig("def create_index(self, index_type: str, metric: str | None = None, params: "
                  "typing.Mapping[str, typing.Any] | None = None) -> None"),
          "Replaces the index (\"FLAT\", \"HNSW\", \"HNSW_SQ\", \"IVF_FLAT\", ...), rebuilt "
          "from the rows; the metric may change too.")
      .def(
          "drop_index",
          [](PyCollection& self) {
            nb::gil_scoped_release release;
            Check(self.c->DropIndex());
          },
          "Back to FLAT (exact) search with the same metric.")
      .def(
          "flush",
          [](PyCollection& self) {
            nb::gil_scoped_release release;
            Check(self.c->Flush());
          },
          "Waits until every row is indexed and writes an index snapshot to disk.")
      .def(
          "compact",
          [](PyCollection& self) {
            nb::gil_scoped_release release;
            Check(self.c->Compact());
          },
          "Frees the memory and disk space of deleted rows and rebuilds the index.")
      .def("__repr__", [](const PyCollection& self) {
        const CollectionSchema& s = self.c->schema();
        return "Collection(" + nb::cast<std::string>(nb::repr(nb::str(s.name.c_str()))) +
               ", dimension=" + std::to_string(s.dimension) +
               ", metric=" + self.c->index().metric_type + ", index=" + self.c->index().index_type +
               ")";
      });
}

}  // namespace

void BindDatabase(nb::module_& m) {
  BindCollection(m);
  nb::class_<PyDatabase>(m, "Database", R"doc(A folder holding collections (or a Milvus server).
Thread-safe; many processes may open one database at once.)doc")
      .def_static(
          "open",
          [](nb::handle location, bool create, int64_t snapshot_every_changes,
             std::optional<std::string> milvus_token, std::optional<std::string> milvus_database,
             std::optional<std::string> milvus_index) {
            std::string where = PathString(location);
            DatabaseOptions o;
            o.create_if_missing = create;
            o.snapshot_every_changes = snapshot_every_changes;
            if (milvus_token) o.milvus.token = *milvus_token;
            if (milvus_database) o.milvus.database = *milvus_database;
            if (milvus_index) o.milvus.float_index = *milvus_index;
            std::unique_ptr<Database> db;
            {
              nb::gil_scoped_release release;
              db = Take(OpenStore(where, o));
            }
            return PyDatabase{std::shared_ptr<Database>(std::move(db))};
          },
          nb::arg("location"), nb::kw_only(), nb::arg("create") = true,
          nb::arg("snapshot_every_changes") = 100000, nb::arg("milvus_token").none() = nb::none(),
          nb::arg("milvus_database").none() = nb::none(),
          nb::arg("milvus_index").none() = nb::none(),
          nb::sig(
              "def open(location: str | os.PathLike[str], *, create: bool = True, "
              "snapshot_every_changes: int = 100000, milvus_token: str | None = None, "
              "milvus_database: str | None = None, milvus_index: str | None = None) -> Database"),
          R"doc(Opens (or creates, in a missing or empty folder) the database at ``location``:
a folder, or a Milvus 2.4/2.5 server (``milvus://HOST:PORT``, ``milvus+https://``).)doc")
      .def(
          "create_collection",
          [](PyDatabase& self, const std::string& name, int dimension,
             std::optional<std::string> metric, nb::handle index, nb::handle index_params,
             bool binary, nb::handle fields, bool auto_id, const std::string& description) {
            auto db = self.Get();
            CollectionSchema s;
            s.name = name;
            s.description = description;
            s.auto_id = auto_id;
            s.dimension = dimension;
            s.vector_type = binary ? DataType::kBinaryVector : DataType::kFloatVector;
            s.scalar_fields = FieldSchemas(fields);
            std::string metric_name = metric ? *metric : (binary ? "HAMMING" : "L2");
            IndexSpec spec("FLAT", metric_name);
            if (nb::isinstance<nb::dict>(index)) {
              nlohmann::json j = ToJson(index);
              spec.index_type = j.value("index_type", std::string("FLAT"));
              spec.metric_type = j.value("metric_type", metric_name);
              if (j.contains("params")) spec.params = j["params"];
            } else if (!index.is_none()) {
              spec.index_type = nb::cast<std::string>(index);
            }
            if (!index_params.is_none()) spec.params = ToJson(index_params);
            std::shared_ptr<Collection> c;
            {
              nb::gil_scoped_release release;
              Check(db->CreateCollection(s, spec));
              c = Take(db->GetCollection(name));
            }
            return PyCollection{db, c};
          },
          nb::arg("name"), nb::kw_only(), nb::arg("dimension"),
          nb::arg("metric").none() = nb::none(), nb::arg("index") = "FLAT",
          nb::arg("index_params").none() = nb::none(), nb::arg("binary") = false,
          nb::arg("fields").none() = nb::none(), nb::arg("auto_id") = false,
          nb::arg("description") = "",
          nb::sig("def create_collection(self, name: str, *, dimension: int, metric: str | None = "
                  "None, index: str | typing.Mapping[str, typing.Any] = 'FLAT', index_params: "
                  "typing.Mapping[str, typing.Any] | None = None, binary: bool = False, fields: "
                  "typing.Mapping[str, str | typing.Mapping[str, typing.Any]] | None = None, "
                  "auto_id: bool = False, description: str = '') -> Collection"),
          R"doc(Creates a collection of ``dimension``-d vectors (bits when ``binary``).

``metric``: "L2" (default), "IP", "COSINE"; "HAMMING" (default) or "JACCARD" for binary.
``index``: "FLAT" (exact), "HNSW", "HNSW_SQ", "IVF_FLAT", ... with ``index_params``
(``{"M": 16, "efConstruction": 200}``), or Milvus's ``{"index_type", "metric_type",
"params"}``. ``fields``: scalar fields, ``{"label": "VarChar", "year": "Int64"}``.
``auto_id``: imgsearch assigns ids (insert with ids=None).)doc")
      .def(
          "get_collection",
          [](const PyDatabase& self, const std::string& name) {
            auto db = self.Get();
            nb::gil_scoped_release release;
            return PyCollection{db, Take(db->GetCollection(name))};
          },
          nb::arg("name"), "A collection by name (NotFound when there is none).")
      .def(
          "__getitem__",
          [](const PyDatabase& self, const std::string& name) {
            auto db = self.Get();
            nb::gil_scoped_release release;
            return PyCollection{db, Take(db->GetCollection(name))};
          },
          nb::arg("name"))
      .def(
          "__contains__",
          [](const PyDatabase& self, const std::string& name) {
            auto db = self.Get();
            nb::gil_scoped_release release;
            return db->HasCollection(name);
          },
          nb::arg("name"))
      .def("list_collections",
           [](const PyDatabase& self) {
             auto db = self.Get();
             nb::gil_scoped_release release;
             return db->ListCollections();
           })
      .def(
          "drop_collection",
          [](PyDatabase& self, const std::string& name) {
            auto db = self.Get();
            nb::gil_scoped_release release;
            Check(db->DropCollection(name));
          },
          nb::arg("name"))
      .def(
          "rename_collection",
          [](PyDatabase& self, const std::string& from, const std::string& to) {
            auto db = self.Get();
            nb::gil_scoped_release release;
            Check(db->RenameCollection(from, to));
          },
          nb::arg("old"), nb::arg("new"))
      .def(
          "close", [](PyDatabase& self) { self.db.reset(); },
          "Lets go of the database (closed once no Collection taken from it is left). Idempotent.")
      .def(
          "__enter__", [](nb::handle self) { return self; },
          nb::sig("def __enter__(self) -> Database"))
      .def(
          "__exit__", [](PyDatabase& self, nb::args) { self.db.reset(); },
          nb::sig("def __exit__(self, *args: object) -> None"))
      .def("__repr__", [](const PyDatabase& self) {
        if (!self.db) return std::string("Database(closed)");
        std::string s = "Database(collections=[";
        auto names = self.db->ListCollections();
        for (size_t i = 0; i < names.size(); ++i) {
          s += (i ? ", " : "") + nb::cast<std::string>(nb::repr(nb::str(names[i].c_str())));
        }
        return s + "])";
      });
}

}  // namespace imgsearch::python
