// imgsearch.IndexReport, SearchResults and the other answers of a Library.
#include "results.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <limits>
#include <optional>

#include "convert.h"

namespace imgsearch::python {

std::string Repr(nb::handle h) {
  return nb::cast<std::string>(nb::repr(h));
}

namespace {

nb::object ModelIds(const ModelResults& m) {
  std::vector<int64_t> ids;
  for (const Hit& h : m.hits) ids.push_back(h.id);
  size_t n = ids.size();
  return nb::cast(NumpyArray(std::move(ids), {n}));
}

nb::object ModelDistances(const ModelResults& m) {
  std::vector<float> d;
  for (const Hit& h : m.hits) d.push_back(h.distance);
  size_t n = d.size();
  return nb::cast(NumpyArray(std::move(d), {n}));
}

std::string HitPath(const Hit& h) {
  auto it = h.row.fields.find("path");
  return it != h.row.fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

nb::object Pandas() {
  try {
    return nb::module_::import_("pandas");
  } catch (const nb::python_error&) {
    throw nb::import_error("to_pandas() needs pandas, which is not installed (pip install pandas)");
  }
}

nb::object ResultsFrame(const PySearchResults& r) {
  nb::list model, rank, id, distance, score, path;
  nb::object nan = nb::float_(std::numeric_limits<double>::quiet_NaN());
  for (const ModelResults& m : r.results.models) {
    for (size_t i = 0; i < m.hits.size(); ++i) {
      model.append(m.model);
      rank.append(i + 1);
      id.append(m.hits[i].id);
      distance.append(double(m.hits[i].distance));
      score.append(nan);
      path.append(HitPath(m.hits[i]));
    }
  }
  for (size_t i = 0; i < r.results.fused.size(); ++i) {
    model.append("fused");
    rank.append(i + 1);
    id.append(r.results.fused[i].id);
    distance.append(nan);
    score.append(r.results.fused[i].score);
    path.append(r.results.fused[i].path);
  }
  nb::dict columns;
  columns["model"] = model;
  columns["rank"] = rank;
  columns["id"] = id;
  columns["distance"] = distance;
  columns["score"] = score;
  columns["path"] = path;
  return Pandas().attr("DataFrame")(columns);
}

nb::object ImageInfoDict(const ImageInfo& i) {
  nb::dict d;
  d["id"] = i.id;
  d["path"] = i.path;
  d["size"] = i.size;
  d["mtime_ns"] = i.mtime_ns;
  d["hash"] = i.hash;
  d["width"] = i.width;
  d["height"] = i.height;
  d["fields"] = FromJson(i.fields);
  return d;
}

nb::object EvalFrame(const EvalReport& report) {
  nb::list model, map, precision, recall, latency, index_recall;
  nb::object nan = nb::float_(std::numeric_limits<double>::quiet_NaN());
  for (const auto& [name, s] : report.models) {
    model.append(name);
    map.append(s.map);
    precision.append(s.precision);
    recall.append(s.recall);
    latency.append(s.latency_ms);
    index_recall.append(s.index_recall < 0 ? nan : nb::float_(s.index_recall));
  }
  nb::dict columns;
  columns["map"] = map;
  columns["precision"] = precision;
  columns["recall"] = recall;
  columns["latency_ms"] = latency;
  columns["index_recall"] = index_recall;
  return Pandas().attr("DataFrame")(
      columns, nb::arg("index") = Pandas().attr("Index")(model, nb::arg("name") = "model"));
}

void BindIndexTypes(nb::module_& m) {
  nb::class_<IndexProgress>(m, "IndexProgress",
                            "How far an index run is (index's progress callback).")
      .def_ro("done", &IndexProgress::done, "Files handled so far (embedded or failed).")
      .def_ro("total", &IndexProgress::total, "Files that need work.")
      .def_ro("seconds", &IndexProgress::seconds)
      .def("__repr__", [](const IndexProgress& p) {
        return "IndexProgress(done=" + std::to_string(p.done) +
               ", total=" + std::to_string(p.total) + ", seconds=" + std::to_string(p.seconds) +
               ")";
      });

  nb::class_<IndexFailure>(m, "IndexFailure", "A file index could not read, and why.")
      .def_ro("path", &IndexFailure::path)
      .def_ro("reason", &IndexFailure::reason)
      .def("__repr__", [](const IndexFailure& f) {
        return "IndexFailure(path=" + Repr(nb::str(f.path.c_str())) +
               ", reason=" + Repr(nb::str(f.reason.c_str())) + ")";
      });

  nb::class_<IndexReport>(m, "IndexReport", "What an index run did.")
      .def_ro("scanned", &IndexReport::scanned)
      .def_ro("added", &IndexReport::added)
      .def_ro("updated", &IndexReport::updated)
      .def_ro("unchanged", &IndexReport::unchanged)
      .def_ro("pruned", &IndexReport::pruned)
      .def_ro("moved", &IndexReport::moved,
              "Images whose file was renamed or moved: kept, not embedded again.")
      .def_ro("duplicates", &IndexReport::duplicates,
              "Files added or updated holding the bytes of an earlier image.")
      .def_ro("failures", &IndexReport::failures, "Unreadable files, with their reason.")
      .def_ro("seconds", &IndexReport::seconds)
      .def_ro("cancelled", &IndexReport::cancelled, "True when the run was stopped early.")
      .def("__repr__", [](const IndexReport& r) {
        return "IndexReport(scanned=" + std::to_string(r.scanned) +
               ", added=" + std::to_string(r.added) + ", updated=" + std::to_string(r.updated) +
               ", unchanged=" + std::to_string(r.unchanged) +
               ", pruned=" + std::to_string(r.pruned) + ", moved=" + std::to_string(r.moved) +
               ", failures=" + std::to_string(r.failures.size()) +
               ", cancelled=" + (r.cancelled ? "True" : "False") + ")";
      });

  nb::class_<AddedImage>(m, "AddedImage", "An image add_image put in the library.")
      .def_ro("id", &AddedImage::id)
      .def_ro("created", &AddedImage::created, "False: the same picture was there already.")
      .def_ro("width", &AddedImage::width)
      .def_ro("height", &AddedImage::height)
      .def_ro("path", &AddedImage::path, "Where the library keeps it.")
      .def("__repr__", [](const AddedImage& a) {
        return "AddedImage(id=" + std::to_string(a.id) +
               ", created=" + (a.created ? "True" : "False") +
               ", path=" + Repr(nb::str(a.path.c_str())) + ")";
      });

  nb::class_<ImageInfo>(m, "ImageInfo",
                        "One image of the library, as its images collection holds it.")
      .def_ro("id", &ImageInfo::id)
      .def_ro("path", &ImageInfo::path, "Absolute, normal form.")
      .def_ro("size", &ImageInfo::size, "Bytes.")
      .def_ro("mtime_ns", &ImageInfo::mtime_ns)
      .def_ro("hash", &ImageInfo::hash, "16 hex digits of a 64-bit hash of the file's bytes.")
      .def_ro("width", &ImageInfo::width)
      .def_ro("height", &ImageInfo::height)
      .def_prop_ro(
          "fields", [](const ImageInfo& i) { return FromJson(i.fields); },
          nb::sig("def fields(self) -> dict[str, typing.Any]"), "The user's fields.")
      .def("to_dict", &ImageInfoDict, nb::sig("def to_dict(self) -> dict[str, typing.Any]"))
      .def("__repr__", [](const ImageInfo& i) {
        return "ImageInfo(id=" + std::to_string(i.id) + ", path=" + Repr(nb::str(i.path.c_str())) +
               ", width=" + std::to_string(i.width) + ", height=" + std::to_string(i.height) + ")";
      });
}

void BindSearchTypes(nb::module_& m) {
  nb::class_<ModelResults>(m, "ModelResults",
                           "One model's answer: the nearest images, nearest first.")
      .def_ro("model", &ModelResults::model)
      .def_ro("seconds", &ModelResults::seconds, "Time spent in this model's collection search.")
      .def_prop_ro("ids", &ModelIds, nb::sig("def ids(self) -> numpy.typing.NDArray[numpy.int64]"),
                   "Image ids, int64 array of shape (n,).")
      .def_prop_ro(
          "distances", &ModelDistances,
          nb::sig("def distances(self) -> numpy.typing.NDArray[numpy.float32]"),
          "float32 array of shape (n,): L2 squared distance, or Hamming bits for a binary model.")
      .def_prop_ro("paths",
                   [](const ModelResults& m) {
                     std::vector<std::string> paths;
                     for (const Hit& h : m.hits) paths.push_back(HitPath(h));
                     return paths;
                   })
      .def_prop_ro(
          "rows",
          [](const ModelResults& m) {
            nb::list rows;
            for (const Hit& h : m.hits) {
              nb::dict row = nb::borrow<nb::dict>(FromJson(h.row.fields));
              row["id"] = h.id;
              row["distance"] = h.distance;
              rows.append(row);
            }
            return rows;
          },
          nb::sig("def rows(self) -> list[dict[str, typing.Any]]"),
          "One dict per hit: id, distance, path, hash, width, height.")
      .def("__len__", [](const ModelResults& m) { return m.hits.size(); })
      .def("__repr__", [](const ModelResults& m) {
        return "ModelResults(model=" + Repr(nb::str(m.model.c_str())) +
               ", hits=" + std::to_string(m.hits.size()) + ")";
      });

  nb::class_<PyFused>(m, "FusedResults", "One ranking across the models (search with fuse=...).")
      .def_ro("method", &PyFused::method, "\"tuned\", \"rrf\" or \"weighted\".")
      .def_prop_ro(
          "ids",
          [](const PyFused& f) {
            std::vector<int64_t> ids;
            for (const auto& h : f.hits) ids.push_back(h.id);
            size_t n = ids.size();
            return nb::cast(NumpyArray(std::move(ids), {n}));
          },
          nb::sig("def ids(self) -> numpy.typing.NDArray[numpy.int64]"))
      .def_prop_ro(
          "scores",
          [](const PyFused& f) {
            std::vector<double> s;
            for (const auto& h : f.hits) s.push_back(h.score);
            size_t n = s.size();
            return nb::cast(NumpyArray(std::move(s), {n}));
          },
          nb::sig("def scores(self) -> numpy.typing.NDArray[numpy.float64]"),
          "float64 array: larger is better.")
      .def_prop_ro("paths",
                   [](const PyFused& f) {
                     std::vector<std::string> p;
                     for (const auto& h : f.hits) p.push_back(h.path);
                     return p;
                   })
      .def("__len__", [](const PyFused& f) { return f.hits.size(); })
      .def("__repr__", [](const PyFused& f) {
        return "FusedResults(method=" + Repr(nb::str(f.method.c_str())) +
               ", hits=" + std::to_string(f.hits.size()) + ")";
      });

  nb::class_<PySearchResults>(m, "SearchResults",
                              "A search's answer: per model (results[\"name\"]), and fused.")
      .def_prop_ro(
          "models", [](const PySearchResults& r) { return r.results.models; },
          "Each model's results, in the library's model order.")
      .def_prop_ro(
          "fused",
          [](const PySearchResults& r) -> std::optional<PyFused> {
            if (r.results.fusion.empty() && r.results.fused.empty()) return std::nullopt;
            return PyFused{r.results.fused, r.results.fusion};
          },
          "The fused ranking, or None when search had no fuse.")
      .def_prop_ro("query", [](const PySearchResults& r) { return r.label; })
      .def("__getitem__",
           [](const PySearchResults& r, const std::string& name) {
             for (const ModelResults& mr : r.results.models) {
               if (mr.model == name) return mr;
             }
             throw StatusError(Status::NotFound("no results for model \"" + name + "\""));
           })
      .def("__len__", [](const PySearchResults& r) { return r.results.models.size(); })
      .def(
          "__iter__",
          [](const PySearchResults& r) {
            nb::list names;
            for (const ModelResults& mr : r.results.models) names.append(mr.model);
            return names.attr("__iter__")();
          },
          nb::sig("def __iter__(self) -> typing.Iterator[str]"), "The models' names.")
      .def(
          "to_dict", [](const PySearchResults& r) { return FromJson(r.results.ToJson(r.label)); },
          nb::sig("def to_dict(self) -> dict[str, typing.Any]"),
          "The shape the command line prints with --json: {query, results: {model: [{rank, "
          "id, distance, path}]}, fused: [{rank, id, score, path}]}.")
      .def("to_pandas", &ResultsFrame, nb::sig("def to_pandas(self) -> typing.Any"),
           "A pandas DataFrame, one row per hit: model, rank, id, distance, score, path "
           "(fused rows have model \"fused\" and a score, no distance). Needs pandas.")
      .def("__repr__", [](const PySearchResults& r) {
        std::string s = "SearchResults(query=" + Repr(nb::str(r.label.c_str())) + ", models=[";
        for (size_t i = 0; i < r.results.models.size(); ++i) {
          s += (i ? ", " : "") + Repr(nb::str(r.results.models[i].model.c_str()));
        }
        return s + "], fused=" + std::to_string(r.results.fused.size()) + ")";
      });
}

void BindReportTypes(nb::module_& m) {
  nb::class_<EvalScores>(m, "EvalScores", "One model's scores on a labelled folder.")
      .def_ro("map", &EvalScores::map, "Mean average precision at K.")
      .def_ro("precision", &EvalScores::precision)
      .def_ro("recall", &EvalScores::recall)
      .def_ro("latency_ms", &EvalScores::latency_ms, "Mean search time per query.")
      .def_ro("index_recall", &EvalScores::index_recall,
              "Recall at K of the index against exact search (-1: not applicable).")
      .def("__repr__", [](const EvalScores& s) {
        return "EvalScores(map=" + std::to_string(s.map) +
               ", precision=" + std::to_string(s.precision) +
               ", recall=" + std::to_string(s.recall) + ")";
      });

  nb::class_<EvalReport>(m, "EvalReport", "evaluate's answer.")
      .def_ro("queries", &EvalReport::queries)
      .def_ro("classes", &EvalReport::classes)
      .def_ro("k", &EvalReport::k)
      .def_ro("models", &EvalReport::models,
              "Per model, and \"fused\" (RRF) and \"tuned\" (after tune).")
      .def_prop_ro(
          "curves",
          [](const EvalReport& r) {
            nb::dict d;
            for (const auto& [name, c] : r.curves) {
              nb::dict curve;
              curve["precision"] = c.precision;
              curve["recall"] = c.recall;
              d[nb::str(name.c_str())] = curve;
            }
            return d;
          },
          nb::sig("def curves(self) -> dict[str, dict[str, list[float]]]"),
          "Precision-recall curve per model: mean precision and recall after each rank 1..K.")
      .def_ro("class_map", &EvalReport::class_map, "mAP@K per model and class.")
      .def_ro("agreement", &EvalReport::agreement, "Mean Jaccard@K of two models' answers.")
      .def_prop_ro(
          "disagreements",
          [](const EvalReport& r) {
            nb::list out;
            for (const auto& d : r.disagreements) {
              nb::dict item;
              item["id"] = d.id;
              item["path"] = d.path;
              item["label"] = d.label;
              item["agreement"] = d.agreement;
              nb::dict hits;
              for (const auto& [model, list] : d.hits) {
                nb::list l;
                for (const auto& h : list) {
                  nb::dict hd;
                  hd["path"] = h.path;
                  hd["relevant"] = h.relevant;
                  l.append(hd);
                }
                hits[nb::str(model.c_str())] = l;
              }
              item["hits"] = hits;
              out.append(item);
            }
            return out;
          },
          nb::sig("def disagreements(self) -> list[dict[str, typing.Any]]"),
          "The queries the models answered most differently.")
      .def("to_html", &EvalReport::ToHtml,
           "A self-contained page: precision-recall curves, mAP per class, agreement, "
           "disagreements.")
      .def("to_pandas", &EvalFrame, nb::sig("def to_pandas(self) -> typing.Any"),
           "A pandas DataFrame indexed by model: map, precision, recall, latency_ms, index_recall.")
      .def("__repr__", [](const EvalReport& r) {
        std::string s = "EvalReport(queries=" + std::to_string(r.queries) +
                        ", k=" + std::to_string(r.k) + ", map={";
        bool first = true;
        for (const auto& [name, sc] : r.models) {
          s += (first ? "" : ", ") + Repr(nb::str(name.c_str())) + ": " + std::to_string(sc.map);
          first = false;
        }
        return s + "})";
      });

  nb::class_<TuneReport>(m, "TuneReport",
                         "tune's answer: the learned weights and how well they carry over.")
      .def_ro("weights", &TuneReport::weights, "Per model, as stored (the strongest is 1).")
      .def_ro("queries", &TuneReport::queries)
      .def_ro("classes", &TuneReport::classes)
      .def_ro("map", &TuneReport::map, "mAP@K of the weights on the classes tuned on.")
      .def_ro("best_model", &TuneReport::best_model)
      .def_ro("best_model_map", &TuneReport::best_model_map)
      .def_ro("rrf_map", &TuneReport::rrf_map)
      .def_ro("held_out_map", &TuneReport::held_out_map)
      .def_ro("held_out_best_model_map", &TuneReport::held_out_best_model_map)
      .def_ro("held_out_rrf_map", &TuneReport::held_out_rrf_map)
      .def("__repr__", [](const TuneReport& r) {
        return "TuneReport(map=" + std::to_string(r.map) +
               ", best_model=" + Repr(nb::str(r.best_model.c_str())) +
               ", held_out_map=" + std::to_string(r.held_out_map) + ")";
      });

  nb::class_<DuplicateGroup>(m, "DuplicateGroup", "Images that are the same picture.")
      .def_ro("images", &DuplicateGroup::images)
      .def_ro("largest", &DuplicateGroup::largest, "The id with the most pixels: keep it.")
      .def_ro("oldest", &DuplicateGroup::oldest)
      .def_ro("min_similarity", &DuplicateGroup::min_similarity)
      .def_ro("max_hash_distance", &DuplicateGroup::max_hash_distance)
      .def("__len__", [](const DuplicateGroup& g) { return g.images.size(); })
      .def("__repr__", [](const DuplicateGroup& g) {
        return "DuplicateGroup(images=" + std::to_string(g.images.size()) +
               ", largest=" + std::to_string(g.largest) + ")";
      });

  nb::class_<DuplicateReport>(m, "DuplicateReport", "find_duplicates's answer.")
      .def_ro("hash_model", &DuplicateReport::hash_model)
      .def_ro("confirm_model", &DuplicateReport::confirm_model)
      .def_ro("images", &DuplicateReport::images)
      .def_ro("candidate_pairs", &DuplicateReport::candidate_pairs)
      .def_ro("confirmed_pairs", &DuplicateReport::confirmed_pairs)
      .def_ro("groups", &DuplicateReport::groups, "Largest groups first.")
      .def_ro("seconds", &DuplicateReport::seconds)
      .def(
          "to_dict", [](const DuplicateReport& r) { return FromJson(r.ToJson()); },
          nb::sig("def to_dict(self) -> dict[str, typing.Any]"))
      .def("to_html", &DuplicateReport::ToHtml)
      .def("__repr__", [](const DuplicateReport& r) {
        return "DuplicateReport(images=" + std::to_string(r.images) +
               ", groups=" + std::to_string(r.groups.size()) + ")";
      });
}

}  // namespace

void BindResults(nb::module_& m) {
  BindIndexTypes(m);
  BindSearchTypes(m);
  BindReportTypes(m);
}

}  // namespace imgsearch::python
