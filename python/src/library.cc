// imgsearch.Library: the C++ Library (include/imgsearch/library.h) with its names in
// Python's conventions. Every long call releases the GIL; index's progress and
// cancellation hooks take it back briefly, the latter to run Python's signal handlers
// (Ctrl-C cancels the run between chunks, everything so far committed).
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>

#include "bindings.h"
#include "concurrency.h"
#include "convert.h"
#include "imgsearch/library.h"
#include "results.h"

namespace imgsearch::python {
namespace {

struct PyLibrary {
  std::shared_ptr<Library> lib;
  std::shared_ptr<Library> Get() const {
    if (!lib) Invalid("the library is closed");
    return lib;
  }
};

// A search's answer, with the query it answered (for compare_html).
std::vector<std::string> ModelList(nb::handle models) {
  std::vector<std::string> out;
  if (models.is_none()) return out;
  if (nb::isinstance<nb::dict>(models)) {
    for (auto [name, source] : nb::borrow<nb::dict>(models)) {
      out.push_back(StrOf(name) + "=" + PathString(source));
    }
    return out;
  }
  return PathList(models, "models");
}

std::vector<std::string> NameList(nb::handle names, const char* what) {
  std::vector<std::string> out;
  if (names.is_none()) return out;
  if (nb::isinstance<nb::str>(names)) return {nb::cast<std::string>(names)};
  try {
    for (nb::handle n : names) out.push_back(nb::cast<std::string>(n));
  } catch (const std::exception&) {
    Invalid(std::string(what) + ": expected a name or a sequence of names");
  }
  return out;
}

bool IsBytesLike(nb::handle value) {
  return nb::isinstance<nb::bytes>(value) || nb::isinstance<nb::bytearray>(value) ||
         PyMemoryView_Check(value.ptr());
}

std::string BytesOf(nb::handle value) {
  Py_buffer view;
  if (PyObject_GetBuffer(value.ptr(), &view, PyBUF_CONTIG_RO) != 0) throw nb::python_error();
  std::string bytes(static_cast<const char*>(view.buf), size_t(view.len));
  PyBuffer_Release(&view);
  return bytes;
}

// An image file (str, os.PathLike, or "id:N"), an image id (int), or encoded bytes.
std::pair<ImageQuery, std::string> ParseQuery(nb::handle query) {
  ImageQuery q;
  if (nb::isinstance<nb::int_>(query) && !nb::isinstance<nb::bool_>(query)) {
    q.id = nb::cast<int64_t>(query);
    return {q, "id:" + std::to_string(q.id)};
  }
  if (IsBytesLike(query)) {
    q.bytes = BytesOf(query);
    q.path = "upload";
    return {q, "upload"};
  }
  if (IsPathLike(query)) {
    std::string text = PathString(query);
    if (nb::isinstance<nb::str>(query)) return {Take(ImageQuery::Parse(text)), text};
    q.path = text;
    return {q, text};
  }
  Invalid(
      "query: expected an image path (str or os.PathLike), an image id (int) or the "
      "image's encoded bytes, got " +
      StrOf(query.type().attr("__name__")));
}

SearchOptions MakeSearchOptions(int k, nb::handle filter, nb::handle fuse, nb::handle models,
                                bool exclude_self, nb::handle weights, uint64_t max_pixels) {
  SearchOptions o;
  if (k <= 0) Invalid("k must be at least 1, got " + std::to_string(k));
  o.k = k;
  if (!filter.is_none()) o.filter = nb::cast<std::string>(filter);
  if (!fuse.is_none() && !(nb::isinstance<nb::bool_>(fuse) && !nb::cast<bool>(fuse))) {
    o.fuse = nb::isinstance<nb::bool_>(fuse) ? "auto" : nb::cast<std::string>(fuse);
  }
  o.only = NameList(models, "models");
  o.exclude_self = exclude_self;
  if (!weights.is_none()) {
    for (nb::handle w : weights) o.weights.push_back(nb::cast<double>(w));
  }
  o.max_pixels = max_pixels;
  return o;
}

PySearchResults DoSearch(const std::shared_ptr<Library>& lib, nb::handle query,
                         const SearchOptions& options) {
  auto [q, label] = ParseQuery(query);
  PySearchResults out;
  {
    nb::gil_scoped_release release;
    InFlight counted;
    out.results = Take(lib->Search(q, options));
  }
  out.query = std::move(q);
  out.label = std::move(label);
  return out;
}

}  // namespace

void BindLibrary(nb::module_& m) {
  nb::class_<PyLibrary>(m, "Library", R"doc(A folder of images indexed under several models at once.

Open one with ``Library.open(path, models={...})``. Thread-safe: searches run in
parallel with each other and with writes (the GIL is released during every long call),
and many processes may open one library at once.)doc")
      .def_static(
          "open",
          [](nb::handle location, nb::handle models, bool only_these_models, bool create,
             bool reembed, int inference_threads, uint64_t max_upload_pixels,
             nb::handle uploads_dir, std::optional<std::string> milvus_token,
             std::optional<std::string> milvus_database, std::optional<std::string> milvus_index) {
            std::string where = PathString(location);
            LibraryOptions o;
            o.models = ModelList(models);
            o.only_these_models = only_these_models;
            o.create_if_missing = create;
            o.reembed = reembed;
            o.inference_threads = inference_threads;
            o.max_upload_pixels = max_upload_pixels;
            if (!uploads_dir.is_none()) o.uploads_dir = PathString(uploads_dir);
            if (milvus_token) o.milvus.token = *milvus_token;
            if (milvus_database) o.milvus.database = *milvus_database;
            if (milvus_index) o.milvus.float_index = *milvus_index;
            std::unique_ptr<Library> lib;
            {
              nb::gil_scoped_release release;
              lib = Take(Library::Open(where, o));
            }
            return PyLibrary{std::shared_ptr<Library>(std::move(lib))};
          },
          nb::arg("location"), nb::arg("models").none() = nb::none(), nb::kw_only(),
          nb::arg("only_these_models") = false, nb::arg("create") = true,
          nb::arg("reembed") = false, nb::arg("inference_threads") = 0,
          nb::arg("max_upload_pixels") = 0, nb::arg("uploads_dir").none() = nb::none(),
          nb::arg("milvus_token").none() = nb::none(),
          nb::arg("milvus_database").none() = nb::none(),
          nb::arg("milvus_index").none() = nb::none(),
          nb::sig(
              "def open(location: str | os.PathLike[str], models: typing.Mapping[str, str | "
              "os.PathLike[str]] | typing.Sequence[str | os.PathLike[str]] | str | None = None, *, "
              "only_these_models: bool = False, create: bool = True, reembed: bool = False, "
              "inference_threads: int = 0, max_upload_pixels: int = 0, uploads_dir: str | "
              "os.PathLike[str] | None = None, milvus_token: str | None = None, milvus_database: "
              "str | None = None, milvus_index: str | None = None) -> Library"),
          R"doc(Opens the library in the folder ``location`` (a missing or empty folder gets a
new one unless ``create=False``), or in a Milvus server (``milvus://HOST:PORT``).

``models``: ``{name: source}`` or a list of sources, each a built-in model's name
(``"phash"``, ``"color_layout"``) or an ONNX file. None: the models the library
already uses (every built-in model for a new library). With ``only_these_models``,
use only these of the library's models (by name) instead of adding any.
``reembed``: a model whose ONNX file changed is embedded again at the next index.)doc")
      .def_prop_ro("location", [](const PyLibrary& l) { return l.Get()->location(); })
      .def_prop_ro(
          "models", [](const PyLibrary& l) { return l.Get()->ModelNames(); },
          "The models in use, in order; each has a collection of the same name.")
      .def_prop_ro(
          "database",
          [](const PyLibrary& l) {
            auto lib = l.Get();
            return WrapDatabase(std::shared_ptr<Database>(lib, &lib->database()));
          },
          nb::sig("def database(self) -> Database"),
          "The collections underneath: \"images\" and one per model (vectors by image id).")
      .def(
          "index",
          [](PyLibrary& self, nb::handle paths, bool prune, nb::handle progress, size_t chunk,
             int decode_threads, std::optional<std::pair<int, int>> shard) {
            auto lib = self.Get();
            IndexOptions o;
            o.paths = PathList(paths, "paths");
            o.prune = prune;
            if (chunk == 0) Invalid("chunk must be at least 1");
            o.chunk = chunk;
            o.decode_threads = decode_threads;
            if (shard) {
              o.shard_index = shard->first;
              o.shard_count = shard->second;
            }
            nb::object callback = MakeProgressCallback(progress);
            std::optional<nb::python_error> pending;  // raised by a hook, re-raised here
            if (!callback.is_none()) {
              o.on_progress = [&](const IndexProgress& p) {
                nb::gil_scoped_acquire acquire;
                if (pending) return;
                try {
                  callback(p);
                } catch (nb::python_error& e) {
                  pending.emplace(std::move(e));
                }
              };
            }
            o.cancelled = [&]() {
              nb::gil_scoped_acquire acquire;
              if (pending) return true;
              if (PyErr_CheckSignals() != 0) {  // e.g. KeyboardInterrupt from Ctrl-C
                pending.emplace();
                return true;
              }
              return false;
            };
            Result<IndexReport> report = Status::Internal("not run");
            {
              nb::gil_scoped_release release;
              report = lib->Index(o);
            }
            CloseProgress(callback);
            if (pending) throw std::move(*pending);
            return Take(std::move(report));
          },
          nb::arg("paths"), nb::kw_only(), nb::arg("prune") = false,
          nb::arg("progress").none() = nb::none(), nb::arg("chunk") = 32,
          nb::arg("decode_threads") = 0, nb::arg("shard").none() = nb::none(),
          nb::sig(
              "def index(self, paths: str | os.PathLike[str] | typing.Sequence[str | "
              "os.PathLike[str]], *, prune: bool = False, progress: "
              "typing.Callable[[IndexProgress], None] | bool | str | None = None, chunk: int = 32, "
              "decode_threads: int = 0, shard: tuple[int, int] | None = None) -> IndexReport"),
          R"doc(Brings the library up to date with folders (scanned recursively) and files.

Incremental (unchanged files are skipped) and resumable: every chunk of files commits.
``prune`` removes images whose file is gone. ``progress``: a callable taking an
:class:`IndexProgress` after each chunk, or ``True``/``"tqdm"`` for a tqdm bar (when
tqdm is installed). ``shard=(i, n)``: this machine's share of the files.

Ctrl-C (or an exception in ``progress``) stops the run after the current chunk, with
everything so far committed, and is raised here; running index again continues.)doc")
      .def(
          "add_image",
          [](PyLibrary& self, nb::handle image, nb::handle fields) {
            auto lib = self.Get();
            nlohmann::json f = fields.is_none() ? nlohmann::json(nullptr) : ToJson(fields);
            if (!f.is_null() && !f.is_object()) Invalid("fields must be a dict");
            if (IsBytesLike(image)) {
              std::string bytes = BytesOf(image);
              nb::gil_scoped_release release;
              return Take(lib->AddImage(bytes, f));
            }
            std::string path = PathString(image);
            nb::gil_scoped_release release;
            return Take(lib->AddImageFile(path, f));
          },
          nb::arg("image"), nb::arg("fields").none() = nb::none(),
          nb::sig(
              "def add_image(self, image: str | os.PathLike[str] | bytes | bytearray | memoryview, "
              "fields: typing.Mapping[str, typing.Any] | None = None) -> AddedImage"),
          R"doc(Adds one image: a file where it lies (as index does), or encoded bytes (an
upload, kept in the library's uploads folder under its content hash, so the same
picture twice is one image). ``fields`` become the image's user fields.)doc")
      .def(
          "set_fields",
          [](PyLibrary& self, int64_t id, nb::handle fields) {
            auto lib = self.Get();
            nlohmann::json f = ToJson(fields);
            if (!f.is_object()) Invalid("fields must be a dict");
            nb::gil_scoped_release release;
            Check(lib->SetFields(id, f));
          },
          nb::arg("id"), nb::arg("fields"),
          nb::sig("def set_fields(self, id: int, fields: typing.Mapping[str, typing.Any]) -> None"),
          "Replaces an image's user fields.")
      .def(
          "remove",
          [](PyLibrary& self, nb::handle ids) {
            auto lib = self.Get();
            std::vector<int64_t> list = IdList(ids, "ids");
            nb::gil_scoped_release release;
            return Take(lib->RemoveImages(list));
          },
          nb::arg("ids"),
          nb::sig("def remove(self, ids: int | typing.Sequence[int] | "
                  "numpy.typing.NDArray[numpy.integer]) -> int"),
          "Removes images from every model at once; returns how many of the ids were present.")
      .def(
          "find",
          [](const PyLibrary& self, const std::string& filter) {
            auto lib = self.Get();
            std::vector<int64_t> ids;
            {
              nb::gil_scoped_release release;
              ids = Take(lib->FindImages(filter));
            }
            size_t n = ids.size();
            return NumpyArray(std::move(ids), {n});
          },
          nb::arg("filter") = "",
          "The ids of the images matching a Milvus filter expression over path, size, mtime, "
          "hash, width, height and the user's fields (fields[\"label\"] == \"cat\"), ascending.")
      .def(
          "get",
          [](const PyLibrary& self, nb::handle ids) {
            auto lib = self.Get();
            std::vector<int64_t> list = IdList(ids, "ids");
            nb::gil_scoped_release release;
            return Take(lib->GetImages(list));
          },
          nb::arg("ids"),
          nb::sig("def get(self, ids: int | typing.Sequence[int] | "
                  "numpy.typing.NDArray[numpy.integer]) -> list[ImageInfo]"),
          "The images with these ids, in the order asked; ids not in the library are left out.")
      .def(
          "path_of",
          [](const PyLibrary& self, int64_t id) {
            auto lib = self.Get();
            nb::gil_scoped_release release;
            return Take(lib->PathOf(id));
          },
          nb::arg("id"), "The path of an image (NotFound when there is no such id).")
      .def(
          "__len__",
          [](const PyLibrary& self) {
            auto lib = self.Get();
            nb::gil_scoped_release release;
            return Take(lib->database().GetCollection(kImagesCollectionName))->Count();
          },
          "The number of images.")
      .def(
          "search",
          [](PyLibrary& self, nb::handle query, int k, nb::handle filter, nb::handle fuse,
             nb::handle models, bool exclude_self, nb::handle weights, uint64_t max_pixels) {
            auto lib = self.Get();
            return DoSearch(
                lib, query,
                MakeSearchOptions(k, filter, fuse, models, exclude_self, weights, max_pixels));
          },
          nb::arg("query"), nb::arg("k") = 10, nb::arg("filter").none() = nb::none(),
          nb::arg("fuse").none() = nb::none(), nb::arg("models").none() = nb::none(), nb::kw_only(),
          nb::arg("exclude_self") = false, nb::arg("weights").none() = nb::none(),
          nb::arg("max_pixels") = 0,
          nb::sig("def search(self, query: str | os.PathLike[str] | int | bytes | bytearray | "
                  "memoryview, k: int = 10, filter: str | None = None, fuse: str | bool | None = "
                  "None, models: str | typing.Sequence[str] | None = None, *, exclude_self: bool = "
                  "False, weights: typing.Sequence[float] | None = None, max_pixels: int = 0) -> "
                  "SearchResults"),
          R"doc(The ``k`` nearest images to the query under each model.

``query``: an image file, an image id already in the library, or encoded image bytes.
``filter``: a Milvus expression (``'width > 100 and fields["label"] == "cat"'``).
``fuse``: also one ranking across the models: ``"auto"`` (or True: the weights tune
learned, else RRF), ``"tuned"``, ``"rrf"``, ``"weighted"`` (with ``weights``).
``models``: search only these models. ``exclude_self`` leaves out the query image.)doc")
      .def(
          "compare",
          [](PyLibrary& self, nb::handle query, int k, nb::handle filter, nb::handle models,
             bool exclude_self) {
            auto lib = self.Get();
            PySearchResults r = nb::isinstance<PySearchResults>(query)
                                    ? nb::cast<PySearchResults>(query)
                                    : DoSearch(lib, query,
                                               MakeSearchOptions(k, filter, nb::none(), models,
                                                                 exclude_self, nb::none(), 0));
            nlohmann::json c;
            {
              nb::gil_scoped_release release;
              c = lib->Compare(r.results);
            }
            return FromJson(c);
          },
          nb::arg("query"), nb::arg("k") = 10, nb::arg("filter").none() = nb::none(),
          nb::arg("models").none() = nb::none(), nb::kw_only(), nb::arg("exclude_self") = false,
          nb::sig("def compare(self, query: SearchResults | str | os.PathLike[str] | int | bytes, "
                  "k: int = 10, filter: str | None = None, models: str | typing.Sequence[str] | "
                  "None = None, *, exclude_self: bool = False) -> dict[str, typing.Any]"),
          R"doc(How far the models agree on one query (or on a search's results):
``{"models": {name: {"distance": {min, max, mean, median}}}, "pairs": [{a, b,
overlap, jaccard, spearman, kendall}]}``.)doc")
      .def(
          "compare_html",
          [](PyLibrary& self, nb::handle query, int k, nb::handle filter, nb::handle models,
             bool exclude_self) {
            auto lib = self.Get();
            PySearchResults r = nb::isinstance<PySearchResults>(query)
                                    ? nb::cast<PySearchResults>(query)
                                    : DoSearch(lib, query,
                                               MakeSearchOptions(k, filter, nb::none(), models,
                                                                 exclude_self, nb::none(), 0));
            nb::gil_scoped_release release;
            nlohmann::json c = lib->Compare(r.results);
            return Take(lib->CompareHtml(r.label, r.query, r.results, c));
          },
          nb::arg("query"), nb::arg("k") = 10, nb::arg("filter").none() = nb::none(),
          nb::arg("models").none() = nb::none(), nb::kw_only(), nb::arg("exclude_self") = false,
          nb::sig("def compare_html(self, query: SearchResults | str | os.PathLike[str] | int | "
                  "bytes, k: int = 10, filter: str | None = None, models: str | "
                  "typing.Sequence[str] | None = None, *, exclude_self: bool = False) -> str"),
          "A self-contained HTML page: the query and one column of thumbnails per model.")
      .def(
          "evaluate",
          [](PyLibrary& self, nb::handle dir, int k, size_t max_queries, bool fuse,
             nb::handle classes) {
            auto lib = self.Get();
            EvalOptions o;
            o.dir = PathString(dir);
            o.k = k;
            o.max_queries = max_queries;
            o.fuse = fuse;
            o.classes = NameList(classes, "classes");
            nb::gil_scoped_release release;
            return Take(lib->Evaluate(o));
          },
          nb::arg("dir"), nb::arg("k") = 10, nb::kw_only(), nb::arg("max_queries") = 0,
          nb::arg("fuse") = true, nb::arg("classes").none() = nb::none(),
          nb::sig(
              "def evaluate(self, dir: str | os.PathLike[str], k: int = 10, *, max_queries: int = "
              "0, fuse: bool = True, classes: typing.Sequence[str] | None = None) -> EvalReport"),
          R"doc(Scores every model on a labelled folder (DIR/<class>/<images>, already indexed):
each image is a query, the other images of its class are the relevant ones.)doc")
      .def(
          "tune",
          [](PyLibrary& self, nb::handle dir, int k, int folds, size_t max_queries,
             nb::handle classes) {
            auto lib = self.Get();
            TuneOptions o;
            o.dir = PathString(dir);
            o.k = k;
            o.folds = folds;
            o.max_queries = max_queries;
            o.classes = NameList(classes, "classes");
            nb::gil_scoped_release release;
            return Take(lib->Tune(o));
          },
          nb::arg("dir"), nb::arg("k") = 10, nb::kw_only(), nb::arg("folds") = 5,
          nb::arg("max_queries") = 0, nb::arg("classes").none() = nb::none(),
          nb::sig(
              "def tune(self, dir: str | os.PathLike[str], k: int = 10, *, folds: int = 5, "
              "max_queries: int = 0, classes: typing.Sequence[str] | None = None) -> TuneReport"),
          "Learns how to fuse the models on a labelled folder and stores it in the library "
          "(search with fuse=\"auto\" uses it).")
      .def(
          "find_duplicates",
          [](PyLibrary& self, int hash_distance, double min_similarity,
             std::optional<std::string> hash_model, std::optional<std::string> confirm_model) {
            auto lib = self.Get();
            DuplicateOptions o;
            o.hash_distance = hash_distance;
            o.min_similarity = min_similarity;
            if (hash_model) o.hash_model = *hash_model;
            if (confirm_model) o.confirm_model = *confirm_model;
            nb::gil_scoped_release release;
            return Take(lib->FindDuplicates(o));
          },
          nb::kw_only(), nb::arg("hash_distance") = 12, nb::arg("min_similarity") = 0.95,
          nb::arg("hash_model").none() = nb::none(), nb::arg("confirm_model").none() = nb::none(),
          R"doc(Groups of images that are the same picture (resized, re-compressed, lightly
cropped, brighter, grey): pairs whose binary hash differs in at most ``hash_distance``
bits, confirmed by a float model's cosine >= ``min_similarity`` (``confirm_model="none"``:
the hash alone decides).)doc")
      .def(
          "close", [](PyLibrary& self) { self.lib.reset(); },
          "Lets go of the library (its files are closed once no Database or Collection "
          "taken from it is left either). Idempotent.")
      .def(
          "__enter__", [](nb::handle self) { return self; },
          nb::sig("def __enter__(self) -> Library"))
      .def(
          "__exit__", [](PyLibrary& self, nb::args) { self.lib.reset(); },
          nb::sig("def __exit__(self, *args: object) -> None"))
      .def("__repr__", [](const PyLibrary& self) {
        if (!self.lib) return std::string("Library(closed)");
        std::string s = "Library(" + Repr(nb::str(self.lib->location().c_str())) + ", models=[";
        auto names = self.lib->ModelNames();
        for (size_t i = 0; i < names.size(); ++i)
          s += (i ? ", " : "") + Repr(nb::str(names[i].c_str()));
        return s + "])";
      });
}

}  // namespace imgsearch::python

namespace imgsearch::python {

nb::object MakeProgressCallback(nb::handle progress) {
  if (progress.is_none()) return nb::none();
  bool bar = (nb::isinstance<nb::bool_>(progress) && nb::cast<bool>(progress)) ||
             (nb::isinstance<nb::str>(progress) && nb::cast<std::string>(progress) == "tqdm");
  if (bar) return nb::module_::import_("imgsearch._helpers").attr("TqdmProgress")();
  if (nb::isinstance<nb::bool_>(progress)) return nb::none();  // progress=False
  if (!PyCallable_Check(progress.ptr())) {
    Invalid("progress: expected a callable, True or \"tqdm\"");
  }
  return nb::borrow(progress);
}

void CloseProgress(nb::handle callback) {
  if (callback.is_none()) return;
  nb::object helper = nb::module_::import_("imgsearch._helpers").attr("TqdmProgress");
  if (nb::isinstance(callback, helper)) callback.attr("close")();
}

}  // namespace imgsearch::python
