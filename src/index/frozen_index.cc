// The default Index::Freeze: a copy of the serialised index.
#include "index/index.h"

namespace imgsearch::index {
namespace {

class CopiedIndex final : public FrozenIndex {
 public:
  explicit CopiedIndex(std::string bytes) : bytes_(std::move(bytes)) {}
  std::vector<std::string_view> pieces() const override { return {bytes_}; }

 private:
  std::string bytes_;
};

}  // namespace

Result<std::unique_ptr<FrozenIndex>> Index::Freeze() const {
  std::string bytes;
  IMGSEARCH_RETURN_IF_ERROR(Serialize(&bytes));
  return std::unique_ptr<FrozenIndex>(new CopiedIndex(std::move(bytes)));
}

}  // namespace imgsearch::index
