// imgsearch.Embedder: one ONNX model turning images into vectors, numpy out. Images are
// decoded on all cores and embedded in rounds (memory stays bounded), with the GIL
// released; Ctrl-C is looked at between rounds.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "bindings.h"
#include "concurrency.h"
#include "convert.h"
#include "imgsearch/embedder.h"

namespace imgsearch::python {
namespace {

constexpr size_t kImagesPerRound = 64;  // decoded images held at once

struct PyEmbedder {
  std::shared_ptr<Embedder> embedder;
};

// One input image: a file, encoded bytes, or RGB pixels already decoded.
struct Source {
  std::string path;
  std::string bytes;
  bool has_bytes = false;
  Image pixels;
  bool has_pixels = false;
  std::string name;  // for error messages
};

std::string TypeName(nb::handle v) {
  return StrOf(v.type().attr("__name__"));
}

bool IsPilImage(nb::handle v) {
  return nb::hasattr(v, "convert") && nb::hasattr(v, "mode") && nb::hasattr(v, "getdata");
}

Image PixelsOf(nb::handle array, const std::string& name) {
  nb::ndarray<nb::ro, nb::device::cpu> a;
  if (!nb::try_cast(array, a, false)) Invalid(name + ": an array numpy cannot hand over");
  if (a.dtype() != nb::dtype<uint8_t>()) {
    Invalid(name + ": pixels must be uint8 RGB, got dtype " + StrOf(array.attr("dtype")));
  }
  if (a.ndim() != 3 || a.shape(2) != 3) {
    std::string shape = "(";
    for (size_t i = 0; i < a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
    Invalid(name + ": pixels must have shape (height, width, 3), got " + shape + ")");
  }
  Image image;
  image.height = int(a.shape(0));
  image.width = int(a.shape(1));
  image.rgb.resize(size_t(image.width) * image.height * 3);
  // Any strides: the pixels are copied into the decoder's layout either way.
  const uint8_t* base = static_cast<const uint8_t*>(a.data());
  size_t i = 0;
  for (size_t y = 0; y < a.shape(0); ++y) {
    for (size_t x = 0; x < a.shape(1); ++x) {
      for (size_t c = 0; c < 3; ++c) {
        image.rgb[i++] =
            base[int64_t(y) * a.stride(0) + int64_t(x) * a.stride(1) + int64_t(c) * a.stride(2)];
      }
    }
  }
  return image;
}

bool IsArray(nb::handle v) {
  return nb::hasattr(v, "__array_interface__");
}

void AddSource(nb::handle item, std::vector<Source>* out) {
  Source s;
  std::string index = "images[" + std::to_string(out->size()) + "]";
  if (IsPathLike(item)) {
    s.path = PathString(item);
    s.name = s.path;
  } else if (nb::isinstance<nb::bytes>(item) || nb::isinstance<nb::bytearray>(item) ||
             PyMemoryView_Check(item.ptr())) {
    Py_buffer view;
    if (PyObject_GetBuffer(item.ptr(), &view, PyBUF_CONTIG_RO) != 0) throw nb::python_error();
    s.bytes.assign(static_cast<const char*>(view.buf), size_t(view.len));
    PyBuffer_Release(&view);
    s.has_bytes = true;
    s.name = index;
  } else if (IsPilImage(item)) {  // before arrays: a PIL image has __array_interface__ too
    nb::object rgb = nb::module_::import_("numpy").attr("asarray")(item.attr("convert")("RGB"));
    s.pixels = PixelsOf(rgb, index);
    s.has_pixels = true;
    s.name = index;
  } else if (IsArray(item)) {
    s.pixels = PixelsOf(item, index);
    s.has_pixels = true;
    s.name = index;
  } else {
    Invalid(index +
            ": expected an image path (str or os.PathLike), encoded bytes, a uint8 "
            "array (height, width, 3) or a PIL image, got " +
            TypeName(item));
  }
  out->push_back(std::move(s));
}

std::vector<Source> Sources(nb::handle images) {
  std::vector<Source> out;
  if (IsPathLike(images) || nb::isinstance<nb::bytes>(images) ||
      nb::isinstance<nb::bytearray>(images) || IsPilImage(images)) {
    AddSource(images, &out);
    return out;
  }
  if (IsArray(images)) {
    nb::ndarray<nb::ro, nb::device::cpu> a;
    if (nb::try_cast(images, a, false) && a.ndim() == 4) {  // a batch (n, h, w, 3)
      for (size_t i = 0; i < a.shape(0); ++i) AddSource(images[nb::int_(i)], &out);
      return out;
    }
    AddSource(images, &out);
    return out;
  }
  try {
    for (nb::handle item : images) AddSource(item, &out);
  } catch (const nb::python_error&) {
    Invalid("images: expected an image or a sequence of images, got " + TypeName(images));
  }
  return out;
}

// Decodes sources[first, first + n) on `threads` threads.
std::vector<Result<Image>> DecodeRound(std::vector<Source>& sources, size_t first, size_t n,
                                       const DecodeOptions& decode, int threads) {
  std::vector<Result<Image>> decoded(n, Status::Internal("not decoded"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      Source& s = sources[first + i];
      if (s.has_pixels) {
        decoded[i] = std::move(s.pixels);
      } else if (s.has_bytes) {
        decoded[i] = DecodeImage(s.bytes, s.name, decode);
      } else {
        decoded[i] = LoadImage(s.path, decode);
      }
    }
  };
  size_t count = std::min<size_t>(size_t(std::max(1, threads)), n);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < count; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return decoded;
}

nb::object Embed(const Embedder& embedder, nb::handle images) {
  std::vector<Source> sources = Sources(images);
  const size_t n = sources.size();
  const bool binary = embedder.vector_type() == VectorType::kBinary;
  std::vector<float> floats;
  std::vector<uint8_t> bits;
  size_t width = 0;
  const DecodeOptions decode = embedder.decode_options();
  const int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (size_t first = 0; first < n; first += kImagesPerRound) {
    size_t count = std::min(kImagesPerRound, n - first);
    {
      nb::gil_scoped_release release;
      InFlight counted;
      std::vector<Result<Image>> decoded = DecodeRound(sources, first, count, decode, threads);
      std::vector<Image> pixels;
      pixels.reserve(count);
      for (size_t i = 0; i < count; ++i) {
        if (!decoded[i].ok()) {
          const Status& st = decoded[i].status();
          // LoadImage names the file itself; bytes and pixels get their index.
          throw StatusError(
              sources[first + i].path.empty() ? st.WithContext(sources[first + i].name) : st);
        }
        pixels.push_back(std::move(decoded[i]).value());
      }
      Embeddings e = Take(embedder.Embed(pixels));
      width = binary ? size_t(e.dimension) / 8 : size_t(e.dimension);
      if (binary) {
        bits.insert(bits.end(), e.bits.begin(), e.bits.end());
      } else {
        floats.insert(floats.end(), e.floats.begin(), e.floats.end());
      }
    }
    if (first + count < n && PyErr_CheckSignals() != 0) throw nb::python_error();
  }
  if (n == 0) {
    int d = embedder.dimension();
    width = d > 0 ? (binary ? size_t(d) / 8 : size_t(d)) : 0;
  }
  if (binary) return nb::cast(NumpyArray(std::move(bits), {n, width}));
  return nb::cast(NumpyArray(std::move(floats), {n, width}));
}

}  // namespace

void BindEmbed(nb::module_& m) {
  nb::class_<PyEmbedder>(m, "Embedder", R"doc(One ONNX model that turns images into vectors.

``Embedder(model)``: a built-in model's name ("phash", "color_layout") or an ONNX file,
whose spec (preprocessing, output, pooling) comes from its metadata, a sidecar JSON
next to it (model.onnx -> model.json) and ``preset``/``spec``, in increasing priority.
One ONNX Runtime session is made here and reused by every call; calls may run in
parallel from several threads.)doc")
      .def(
          "__init__",
          [](PyEmbedder* self, nb::handle model, int batch_size, int threads,
             std::optional<std::string> preset, nb::handle spec) {
            std::string source = PathString(model);
            EmbedderOptions o;
            if (batch_size <= 0) Invalid("batch_size must be at least 1");
            o.batch_size = batch_size;
            o.intra_op_threads = threads;
            nlohmann::json override_spec = spec.is_none() ? nlohmann::json::object() : ToJson(spec);
            if (!override_spec.is_object()) Invalid("spec must be a dict");
            if (preset) override_spec["preset"] = *preset;
            if (!override_spec.empty()) o.spec_override = override_spec.dump();
            std::unique_ptr<Embedder> e;
            {
              nb::gil_scoped_release release;
              e = Take(Embedder::Open(source, o));
            }
            new (self) PyEmbedder{std::shared_ptr<Embedder>(std::move(e))};
          },
          nb::arg("model"), nb::kw_only(), nb::arg("batch_size") = 8, nb::arg("threads") = 0,
          nb::arg("preset").none() = nb::none(), nb::arg("spec").none() = nb::none(),
          nb::sig("def __init__(self, model: str | os.PathLike[str], *, batch_size: int = 8, "
                  "threads: int = 0, preset: str | None = None, spec: typing.Mapping[str, "
                  "typing.Any] | None = None) -> None"),
          "``batch_size``: images per ONNX Runtime call; ``threads``: ONNX Runtime's threads "
          "(0: one per core); ``preset``: \"keras-caffe\", \"torch\", \"tf\" or \"clip\"; "
          "``spec``: model spec keys over the model's own (doc/model-spec.md).")
      .def_prop_ro("name", [](const PyEmbedder& e) { return e.embedder->spec().name; })
      .def_prop_ro(
          "dimension", [](const PyEmbedder& e) { return e.embedder->dimension(); },
          "Floats per vector, or bits for a binary model (-1 until the first "
          "embed for a model whose output size is only known then).")
      .def_prop_ro(
          "binary",
          [](const PyEmbedder& e) { return e.embedder->vector_type() == VectorType::kBinary; },
          "True for a binary model (vectors are packed bits, uint8).")
      .def_prop_ro(
          "spec",
          [](const PyEmbedder& e) {
            return FromJson(nlohmann::json::parse(ModelSpecToJson(e.embedder->spec())));
          },
          nb::sig("def spec(self) -> dict[str, typing.Any]"),
          "The model's spec, every key spelled out.")
      .def(
          "embed",
          [](const PyEmbedder& e, nb::handle images) { return Embed(*e.embedder, images); },
          nb::arg("images"),
          nb::sig("def embed(self, images: str | os.PathLike[str] | bytes | "
                  "numpy.typing.NDArray[numpy.uint8] | typing.Any | typing.Sequence[str | "
                  "os.PathLike[str] | bytes | numpy.typing.NDArray[numpy.uint8] | typing.Any]) -> "
                  "numpy.typing.NDArray[numpy.float32] | numpy.typing.NDArray[numpy.uint8]"),
          R"doc(The vectors of the images: a float32 array of shape (n, dimension), or uint8
of shape (n, dimension/8) for a binary model; row i belongs to images[i].

Each image is a file (str or os.PathLike), its encoded bytes, a uint8 array of RGB
pixels (height, width, 3) or a PIL image; a single image gives n = 1, and a uint8
array (n, height, width, 3) is n images. An image that cannot be read raises, naming it.)doc")
      .def("__repr__", [](const PyEmbedder& e) {
        return "Embedder(" +
               nb::cast<std::string>(nb::repr(nb::str(e.embedder->spec().name.c_str()))) +
               ", dimension=" + std::to_string(e.embedder->dimension()) +
               (e.embedder->vector_type() == VectorType::kBinary ? ", binary" : "") + ")";
      });

  m.def(
      "builtin_models",
      [] {
        nb::dict d;
        for (const auto& info : ListBuiltinModels())
          d[nb::str(info.name.c_str())] = info.description;
        return d;
      },
      nb::sig("def builtin_models() -> dict[str, str]"),
      "The models compiled into imgsearch, usable by name without any download: {name: "
      "description}.");
}

}  // namespace imgsearch::python
