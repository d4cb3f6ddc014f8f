#include "index/ivf_index.h"

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryIVF.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>

#include "index/faiss_call.h"
#include "index/serializer.h"

namespace imgsearch::index {
namespace {

// Lets FAISS ask our filter and removal mask which labels may be returned.
struct AllowedSelector final : faiss::IDSelector {
  const LabelFilter* filter;
  const std::vector<uint8_t>* removed;
  bool is_member(int64_t id) const override {
    if (static_cast<size_t>(id) < removed->size() && (*removed)[id]) return false;
    return filter->Allows(id);
  }
};

faiss::MetricType FaissMetric(Metric metric) {
  return metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

// FAISS reports inner products as similarities; ours are negated.
float InternalDistance(Metric metric, float faiss_distance) {
  return metric == Metric::kL2 || IsBinaryMetric(metric) ? faiss_distance : -faiss_distance;
}

}  // namespace

IvfIndex::IvfIndex(IvfKind kind, Metric metric, size_t dim, IvfParams params)
    : kind_(kind), metric_(metric), dim_(dim), params_(params), pending_(metric, dim) {}

IvfIndex::~IvfIndex() = default;

const char* IvfIndex::type() const {
  switch (kind_) {
    case IvfKind::kFlat:
      return "IVF_FLAT";
    case IvfKind::kSq8:
      return "IVF_SQ8";
    case IvfKind::kPq:
      return "IVF_PQ";
    case IvfKind::kBinaryFlat:
      return "BIN_IVF_FLAT";
  }
  return "IVF";
}

size_t IvfIndex::train_threshold() const {
  // k-means wants tens of points per list; PQ wants 2^nbits points per codebook.
  size_t want = size_t(params_.nlist) * 32;
  if (kind_ == IvfKind::kPq) want = std::max(want, size_t(64) << params_.nbits);
  return want;
}

Status IvfIndex::Add(size_t n, const int64_t* labels, const void* vectors) {
  if (!trained_) {
    IMGSEARCH_RETURN_IF_ERROR(pending_.Add(n, labels, vectors));
    return pending_.size() >= train_threshold() ? Train() : Status::Ok();
  }
  IMGSEARCH_RETURN_IF_ERROR(CallFaiss(type(), "add", [&] {
    if (binary_index_) {
      binary_index_->add_with_ids(n, static_cast<const uint8_t*>(vectors), labels);
    } else {
      float_index_->add_with_ids(n, static_cast<const float*>(vectors), labels);
    }
  }));
  trained_count_ += n;
  return Status::Ok();
}

Status IvfIndex::Train() {
  const size_t n = pending_.size();
  const size_t stride = IsBinaryMetric(metric_) ? dim_ / 8 : dim_ * sizeof(float);
  std::vector<uint8_t> data(n * stride);
  for (size_t i = 0; i < n; ++i) std::copy_n(pending_.vector_at(i), stride, &data[i * stride]);
  std::vector<int64_t> labels = pending_.labels();
  IMGSEARCH_RETURN_IF_ERROR(CallFaiss(type(), "training", [&] {
    if (kind_ == IvfKind::kBinaryFlat) {
      TrainBinary(n, data.data());
    } else {
      TrainFloat(n, reinterpret_cast<const float*>(data.data()));
    }
  }));
  trained_ = true;
  pending_.Clear();
  return Add(n, labels.data(), data.data());
}

void IvfIndex::TrainBinary(size_t n, const uint8_t* data) {
  auto* quantizer = new faiss::IndexBinaryFlat(dim_);
  auto ivf = std::make_unique<faiss::IndexBinaryIVF>(quantizer, dim_, params_.nlist);
  ivf->own_fields = true;
  ivf->train(n, data);
  binary_index_ = std::move(ivf);
}

void IvfIndex::TrainFloat(size_t n, const float* data) {
  faiss::Index* quantizer = metric_ == Metric::kL2
                                ? static_cast<faiss::Index*>(new faiss::IndexFlatL2(dim_))
                                : new faiss::IndexFlatIP(dim_);
  std::unique_ptr<faiss::IndexIVF> ivf;
  faiss::MetricType fm = FaissMetric(metric_);
  if (kind_ == IvfKind::kFlat) {
    ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer, dim_, params_.nlist, fm);
  } else if (kind_ == IvfKind::kSq8) {
    ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(quantizer, dim_, params_.nlist,
                                                           faiss::ScalarQuantizer::QT_8bit, fm);
  } else {
    ivf = std::make_unique<faiss::IndexIVFPQ>(quantizer, dim_, params_.nlist, params_.m,
                                              params_.nbits, fm);
  }
  ivf->own_fields = true;
  ivf->train(n, data);
  float_index_ = std::move(ivf);
}

void IvfIndex::Remove(int64_t label) {
  if (!trained_ || pending_.size() > 0) pending_.Remove(label);
  if (!trained_ || label < 0 || Removed(label)) return;
  if (static_cast<size_t>(label) >= removed_.size()) removed_.resize(size_t(label) + 1, 0);
  removed_[label] = 1;
  ++removed_count_;
}

Result<std::vector<Neighbor>> IvfIndex::Search(const void* query, size_t k,
                                               const SearchParams& params,
                                               const LabelFilter& filter) const {
  if (!trained_) return pending_.Search(query, k, params, filter);
  if (k == 0) return std::vector<Neighbor>();  // FAISS refuses k = 0
  return SearchTrained(query, k, params, filter);
}

Result<std::vector<Neighbor>> IvfIndex::SearchTrained(const void* query, size_t k,
                                                      const SearchParams& params,
                                                      const LabelFilter& filter) const {
  size_t nprobe =
      static_cast<size_t>(params.nprobe > 0 ? params.nprobe : std::min(params_.nlist, 16));
  AllowedSelector selector;
  selector.filter = &filter;
  selector.removed = &removed_;
  // Ranges and the binary index (which ignores selectors) are applied afterwards, so ask
  // for more and trim.
  bool post_filter = binary_index_ != nullptr || params.min_distance > -1e30f;
  size_t fetch = post_filter ? std::max<size_t>(k * 4, 64) : k;
  std::vector<Neighbor> out;
  IMGSEARCH_RETURN_IF_ERROR(CallFaiss(type(), "search", [&] {
    out = binary_index_ ? SearchBinary(static_cast<const uint8_t*>(query), fetch, nprobe)
                        : SearchFloat(static_cast<const float*>(query), fetch, nprobe, &selector);
  }));
  std::vector<Neighbor> kept;
  for (const Neighbor& n : out) {
    if (kept.size() < k && selector.is_member(n.label) && params.InRange(n.distance))
      kept.push_back(n);
  }
  return kept;
}

std::vector<Neighbor> IvfIndex::SearchFloat(const float* query, size_t fetch, size_t nprobe,
                                            faiss::IDSelector* selector) const {
  faiss::SearchParametersIVF search_params;
  search_params.nprobe = nprobe;
  search_params.sel = selector;
  std::vector<int64_t> labels(fetch, -1);
  std::vector<float> distances(fetch);
  float_index_->search(1, query, fetch, distances.data(), labels.data(), &search_params);
  std::vector<Neighbor> out;
  for (size_t i = 0; i < fetch; ++i) {
    if (labels[i] >= 0) out.push_back({labels[i], InternalDistance(metric_, distances[i])});
  }
  return out;
}

// FAISS 1.7.3's IndexBinaryIVF::search refuses per-call parameters and reads nprobe from
// the index itself, which concurrent searches share (writing it there was a data race).
// Its two halves do take them: the coarse quantizer finds the nprobe nearest lists, and
// search_preassigned scans those lists with this call's parameters.
std::vector<Neighbor> IvfIndex::SearchBinary(const uint8_t* query, size_t fetch,
                                             size_t nprobe) const {
  const auto* ivf = static_cast<const faiss::IndexBinaryIVF*>(binary_index_.get());
  nprobe = std::min(nprobe, ivf->nlist);
  std::vector<int64_t> lists(nprobe, -1);
  std::vector<int32_t> list_distances(nprobe);
  ivf->quantizer->search(1, query, static_cast<int64_t>(nprobe), list_distances.data(),
                         lists.data());
  faiss::SearchParametersIVF search_params;
  search_params.nprobe = nprobe;
  std::vector<int64_t> labels(fetch, -1);
  std::vector<int32_t> distances(fetch);
  ivf->search_preassigned(1, query, static_cast<int64_t>(fetch), lists.data(),
                          list_distances.data(), distances.data(), labels.data(),
                          /*store_pairs=*/false, &search_params);
  std::vector<Neighbor> out;
  for (size_t i = 0; i < fetch; ++i) {
    if (labels[i] >= 0) out.push_back({labels[i], static_cast<float>(distances[i])});
  }
  return out;
}

Status IvfIndex::Serialize(std::string* out) const {
  Writer w(out);
  w.U64(trained_ ? 1 : 0);
  std::string pending;
  IMGSEARCH_RETURN_IF_ERROR(pending_.Serialize(&pending));
  w.U64(pending.size());
  w.Bytes(pending.data(), pending.size());
  if (!trained_) return Status::Ok();
  w.U64(trained_count_);
  w.U64(removed_.size());
  w.Array(removed_.data(), removed_.size());
  faiss::VectorIOWriter writer;
  IMGSEARCH_RETURN_IF_ERROR(CallFaiss(type(), "serialisation", [&] {
    if (binary_index_) {
      faiss::write_index_binary(binary_index_.get(), &writer);
    } else {
      faiss::write_index(float_index_.get(), &writer);
    }
  }));
  w.U64(writer.data.size());
  w.Bytes(writer.data.data(), writer.data.size());
  return Status::Ok();
}

Status IvfIndex::Deserialize(std::string_view in) {
  Reader r(in);
  uint64_t trained = 0, pending_size = 0;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&trained));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&pending_size));
  std::vector<uint8_t> pending;
  IMGSEARCH_RETURN_IF_ERROR(r.Bytes(&pending, pending_size));
  IMGSEARCH_RETURN_IF_ERROR(pending_.Deserialize(
      std::string_view(reinterpret_cast<const char*>(pending.data()), pending.size())));
  trained_ = trained != 0;
  if (!trained_) return r.ExpectEnd();
  uint64_t count = 0, removed_size = 0, blob_size = 0;
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&count));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&removed_size));
  IMGSEARCH_RETURN_IF_ERROR(r.Array(&removed_, removed_size));
  IMGSEARCH_RETURN_IF_ERROR(r.U64(&blob_size));
  faiss::VectorIOReader reader;
  IMGSEARCH_RETURN_IF_ERROR(r.Bytes(&reader.data, blob_size));
  IMGSEARCH_RETURN_IF_ERROR(r.ExpectEnd());
  trained_count_ = count;
  removed_count_ = static_cast<size_t>(std::count(removed_.begin(), removed_.end(), 1));
  Status read = CallFaiss(type(), "loading", [&] {
    if (kind_ == IvfKind::kBinaryFlat) {
      binary_index_.reset(faiss::read_index_binary(&reader));
    } else {
      float_index_.reset(faiss::read_index(&reader));
    }
  });
  if (!read.ok()) return Status::Corruption(read.message());
  IMGSEARCH_RETURN_IF_ERROR(CheckLoaded());
  // size() subtracts the removed from the added: both must agree with what FAISS holds.
  int64_t held = binary_index_ ? binary_index_->ntotal : float_index_->ntotal;
  bool marks_ok = std::all_of(removed_.begin(), removed_.end(), [](uint8_t r) { return r <= 1; });
  if (!marks_ok || static_cast<uint64_t>(held) != trained_count_ || removed_count_ > trained_count_)
    return Status::Corruption(std::string(type()) + " snapshot: its counts disagree with FAISS");
  return Status::Ok();
}

// FAISS reads whatever index its bytes describe; a search would trust the kind and the
// metric (one FAISS cannot scan ends the process from inside an OpenMP region).
Status IvfIndex::CheckLoaded() const {
  const std::string what = std::string(type()) + " snapshot: ";
  if (kind_ == IvfKind::kBinaryFlat) {
    if (dynamic_cast<const faiss::IndexBinaryIVF*>(binary_index_.get()) == nullptr)
      return Status::Corruption(what + "FAISS holds another kind of binary index");
    if (binary_index_->d != static_cast<int>(dim_))
      return Status::Corruption(what + "dimension differs");
    return Status::Ok();
  }
  const faiss::Index* loaded = float_index_.get();
  bool right_kind = kind_ == IvfKind::kFlat
                        ? dynamic_cast<const faiss::IndexIVFFlat*>(loaded) != nullptr
                    : kind_ == IvfKind::kSq8
                        ? dynamic_cast<const faiss::IndexIVFScalarQuantizer*>(loaded) != nullptr
                        : dynamic_cast<const faiss::IndexIVFPQ*>(loaded) != nullptr;
  if (!right_kind) return Status::Corruption(what + "FAISS holds another kind of index");
  if (loaded->d != static_cast<int>(dim_)) return Status::Corruption(what + "dimension differs");
  if (loaded->metric_type != FaissMetric(metric_))
    return Status::Corruption(what + "FAISS holds another metric");
  return Status::Ok();
}

std::vector<int64_t> IvfIndex::Labels() const {
  std::vector<int64_t> labels = pending_.Labels();
  if (!trained_) return labels;
  const faiss::InvertedLists* lists =
      kind_ == IvfKind::kBinaryFlat
          ? dynamic_cast<const faiss::IndexBinaryIVF&>(*binary_index_).invlists
          : dynamic_cast<const faiss::IndexIVF&>(*float_index_).invlists;
  for (size_t list = 0; list < lists->nlist; ++list) {
    faiss::InvertedLists::ScopedIds ids(lists, list);
    for (size_t i = 0; i < lists->list_size(list); ++i) {
      if (!Removed(ids[i])) labels.push_back(ids[i]);
    }
  }
  return labels;
}

size_t IvfIndex::MemoryUsage() const {
  size_t codes = 0;
  if (kind_ == IvfKind::kFlat) codes = dim_ * 4;
  if (kind_ == IvfKind::kSq8) codes = dim_;
  if (kind_ == IvfKind::kPq) codes = size_t(params_.m) * params_.nbits / 8;
  if (kind_ == IvfKind::kBinaryFlat) codes = dim_ / 8;
  return pending_.MemoryUsage() + trained_count_ * (codes + 8) + removed_.capacity();
}

}  // namespace imgsearch::index
